"""Sample data, medical and general part: medical JSONL, GMAI-MMBench TSV, general SFT JSONL.

Formats: docs/data-formats.md; GMAI-MMBench columns evaluation.md §7.2. Medical "scans" are
grey images with one bright blob (the lesion) whose presence and side are known.
"""

from __future__ import annotations

import base64
import csv
import io
import random
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from internvl_da.prep import synthetic

if TYPE_CHECKING:
    from internvl_da.prep.sample import Writer

MODALITIES = ("CT", "MRI", "X-ray")
GMAI_COLUMNS = ("index", "question", "A", "B", "C", "D", "E", "answer", "image", "category",
                "clinical vqa task", "department", "perceptual granularity", "modality")


def _scan(rng: random.Random, size: int = 224) -> tuple[Image.Image, str | None]:
    """A grey 'scan'; returns the image and the lesion side ('left'/'right') or None."""
    level = rng.randrange(40, 90)
    image = Image.new("RGB", (size, size), (level, level, level))
    draw = ImageDraw.Draw(image)
    draw.ellipse((size * 0.1, size * 0.1, size * 0.9, size * 0.9), fill=(level + 50,) * 3)
    side = rng.choice(["left", "right", None])
    if side:
        cx = size * (0.3 if side == "left" else 0.7)
        r = size * 0.12
        draw.ellipse((cx - r, size / 2 - r, cx + r, size / 2 + r), fill=(240, 240, 240))
    return image, side


def write_medical(writer: Writer, rng: random.Random, n: int) -> dict:
    rows = []
    for k in writer.progress(range(n), "medical"):
        image, side = _scan(rng)
        name = f"scan_{k:04d}.jpg"
        writer.image(f"medical/images/{name}", image)
        modality = rng.choice(MODALITIES)
        if rng.random() < 0.5:
            q, a = f"Is there a lesion in this {modality} image?", "yes" if side else "no"
        else:
            q = "On which side is the lesion?"
            a = f"The lesion is on the {side}." if side else "There is no lesion."
        rows.append({"id": f"medical_{k}", "image": name, "conversations": [
            {"from": "human", "value": f"<image>\n{q}"}, {"from": "gpt", "value": a}]})
    writer.jsonl("medical/medical_sft.jsonl", rows)
    return {"lines": n}


def _png_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def write_gmai(writer: Writer, rng: random.Random, n: int) -> dict:
    """GMAI-MMBench-style VAL TSV with base64 images (VLMEvalKit layout)."""
    buffer = io.StringIO()
    out = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    out.writerow(GMAI_COLUMNS)
    options = ["left", "right", "no lesion", "both sides"]
    for k in writer.progress(range(n), "gmai"):
        image, side = _scan(rng, size=128)
        truth = side or "no lesion"
        shuffled = rng.sample(options, len(options))
        answer = "ABCD"[shuffled.index(truth)]
        modality = rng.choice(MODALITIES)
        out.writerow([k, f"Where is the lesion in this {modality} image?", *shuffled, "",
                      answer, _png_base64(image), "Lesion localisation",
                      "Disease Diagnosis", rng.choice(["Radiology", "Oncology"]),
                      "Organ level", modality])
    writer.text("gmai/GMAI-MMBench_VAL.tsv", buffer.getvalue())
    return {"rows": n}


def write_general(writer: Writer, rng: random.Random, n: int) -> dict:
    """Single-image, multi-image and text-only lines (stand-in for the general SFT mixture)."""
    rows = []
    for k in writer.progress(range(n), "general"):
        kind = ("single", "multi", "text")[k % 3]
        if kind == "text":
            colour = rng.choice(list(synthetic.PALETTE))
            rows.append({"id": f"general_{k}", "conversations": [
                {"from": "human", "value": f"Name a shape that could be {colour}."},
                {"from": "gpt", "value": f"A {colour} {rng.choice(synthetic.SHAPES)}."}]})
            continue
        scenes = [synthetic.random_scene(rng, 320, 240, rng.randint(1, 3))
                  for _ in range(1 if kind == "single" else 2)]
        names = [f"general_{k:04d}_{i}.jpg" for i in range(len(scenes))]
        for name, scene in zip(names, scenes, strict=True):
            writer.image(f"general/images/{name}", synthetic.render(scene))
        if kind == "single":
            q, a = synthetic.count_question(rng, scenes[0])
            rows.append({"id": f"general_{k}", "image": names[0], "conversations": [
                {"from": "human", "value": f"<image>\n{q}"}, {"from": "gpt", "value": a}]})
        else:
            more = "first" if len(scenes[0].shapes) >= len(scenes[1].shapes) else "second"
            rows.append({"id": f"general_{k}", "image": names, "conversations": [
                {"from": "human", "value": "Image-1: <image>\nImage-2: <image>\n"
                                           "Which image has more shapes?"},
                {"from": "gpt", "value": f"The {more} image."}]})
    writer.jsonl("general/general_sft.jsonl", rows)
    return {"lines": n}
