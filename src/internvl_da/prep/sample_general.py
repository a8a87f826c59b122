"""Sample data, medical and general part: medical JSONL, GMAI-MMBench TSV, general SFT JSONLs.

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


# The nine InternVL-1.2 general SFT datasets (training.md §8.2) with the image root each has in
# the released metas (`playground/data/` for the ShareGPT4V mixtures, `coco/`, `dvqa/`; the
# other five are [verify]); images go under `<root>/general/`.
GENERAL_ROOTS = {
    "sharegpt4v_instruct_gpt4-vision_cap100k": "playground/data/",
    "llava_instruct_150k_zh": "playground/data/coco/",
    "sharegpt4v_mix665k_cap23k_coco-ap9k_lcs3k_sam9k_div2k": "playground/data/",
    "dvqa_train_200k": "playground/data/dvqa/",
    "chartqa_train_18k": "playground/data/chartqa/",
    "ai2d_train_12k": "playground/data/ai2d/",
    "docvqa_train_10k": "playground/data/docvqa/",
    "geoqa+": "playground/data/geoqa+/",
    "synthdog_en": "playground/data/synthdog-en/",
}
GENERAL_ANNOTATION = "playground/opensource/{name}.jsonl"


def _general_rows(writer: Writer, rng: random.Random, name: str, root: str, n: int) -> list[dict]:
    """Single-image, multi-image and text-only lines, images under `root`general/."""
    rows = []
    for k in writer.progress(range(n), name):
        kind = ("single", "multi", "text")[k % 3]
        if kind == "text":
            colour = rng.choice(list(synthetic.PALETTE))
            rows.append({"id": f"{name}_{k}", "conversations": [
                {"from": "human", "value": f"Name a shape that could be {colour}."},
                {"from": "gpt", "value": f"A {colour} {rng.choice(synthetic.SHAPES)}."}]})
            continue
        scenes = [synthetic.random_scene(rng, 320, 240, rng.randint(1, 3))
                  for _ in range(1 if kind == "single" else 2)]
        stem = name.replace("+", "plus")
        names = [f"general/{stem}_{k:04d}_{i}.jpg" for i in range(len(scenes))]
        for image, scene in zip(names, scenes, strict=True):
            writer.image(root + image, synthetic.render(scene))
        if kind == "single":
            q, a = synthetic.count_question(rng, scenes[0])
            rows.append({"id": f"{name}_{k}", "image": names[0], "conversations": [
                {"from": "human", "value": f"<image>\n{q}"}, {"from": "gpt", "value": a}]})
        else:
            more = "first" if len(scenes[0].shapes) >= len(scenes[1].shapes) else "second"
            rows.append({"id": f"{name}_{k}", "image": names, "conversations": [
                {"from": "human", "value": "Image-1: <image>\nImage-2: <image>\n"
                                           "Which image has more shapes?"},
                {"from": "gpt", "value": f"The {more} image."}]})
    return rows


def write_general(writer: Writer, rng: random.Random, n: int) -> dict:
    """A miniature of the nine general SFT datasets with their reference names and roots
    (InternVL-Chat-V1-2-SFT-Data's `<name>.jsonl`, as the released metas place them)."""
    for name, root in GENERAL_ROOTS.items():
        writer.jsonl(GENERAL_ANNOTATION.format(name=name),
                     _general_rows(writer, rng, name, root, n))
    return {"datasets": len(GENERAL_ROOTS), "lines": n * len(GENERAL_ROOTS)}
