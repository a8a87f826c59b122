"""Sample data, your-own-domain part: one folder of images and a table per task.

`custom/shapes/images/scene_KKKK.jpg` (synthetic scenes, facts known) and the four tables
`prep custom` reads, in both formats: vqa.csv (presence and count questions), caption.csv (two
captions per image), mcq.jsonl (`choices` as a list), grounding.csv (phrase + pixel box). The
default pipeline declares a domain on each (params.yaml `custom.domains`), so `make demo` and CI
run prepare -> validate -> fine-tune -> eval -> report for every task. Formats:
docs/data-formats.md ("Your own domain").
"""

from __future__ import annotations

import csv
import io
import json
import random
from typing import TYPE_CHECKING

from internvl_da.prep import synthetic

if TYPE_CHECKING:
    from internvl_da.prep.sample import Writer

ROOT = "custom/shapes"
WIDTH, HEIGHT = 256, 192


def _csv(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(header)
    out.writerows(rows)
    return buffer.getvalue()


def _caption(scene: synthetic.Scene) -> tuple[str, str]:
    """Two references: the shapes listed, and their count."""
    names = [f"a {s.colour} {s.kind}" for s in scene.shapes]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    count = len(scene.shapes)
    return (f"{listed.capitalize()} on a plain background.",
            f"{'One shape' if count == 1 else f'{count} shapes'} on a plain background.")


def _mcq(rng: random.Random, scene: synthetic.Scene, image: str) -> dict:
    shape = rng.choice(scene.shapes)
    choices = rng.sample(list(synthetic.PALETTE), len(synthetic.PALETTE))
    where = synthetic.describe(shape, scene.width).replace(f"{shape.colour} ", "", 1)
    return {"image": image, "question": f"What colour is {where}?", "choices": choices,
            "answer": "ABCD"[choices.index(shape.colour)]}


def write_custom(writer: Writer, rng: random.Random, n: int) -> dict:
    """`n` scenes and the four tables over them."""
    vqa, caption, mcq, grounding = [], [], [], []
    for k in writer.progress(range(n), "custom"):
        scene = synthetic.random_scene(rng, WIDTH, HEIGHT, rng.randint(1, 3),
                                       size_range=(0.3, 0.45))
        image = f"scene_{k:04d}.jpg"
        writer.image(f"{ROOT}/images/{image}", synthetic.render(scene))
        vqa.append([image, *synthetic.presence_question(rng, scene)])
        vqa.append([image, *synthetic.count_question(rng, scene)])
        caption += [[image, text] for text in _caption(scene)]
        mcq.append(_mcq(rng, scene, image))
        shape = rng.choice(scene.shapes)
        grounding.append([image, synthetic.describe(shape, scene.width), *shape.box])
    writer.text(f"{ROOT}/vqa.csv", _csv(["image", "question", "answer"], vqa))
    writer.text(f"{ROOT}/caption.csv", _csv(["image", "caption"], caption))
    writer.text(f"{ROOT}/mcq.jsonl", "".join(json.dumps(r) + "\n" for r in mcq))
    writer.text(f"{ROOT}/grounding.csv",
                _csv(["image", "phrase", "x1", "y1", "x2", "y2"], grounding))
    return {"images": n, "vqa": len(vqa), "caption": len(caption), "mcq": len(mcq),
            "grounding": len(grounding)}
