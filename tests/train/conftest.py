"""A small training set on disk (images + JSONL + meta) for the training tests."""

from __future__ import annotations

import json
import random

import pytest
from PIL import Image, ImageDraw

COLOURS = {"red": (220, 40, 40), "blue": (40, 80, 220)}


def write_toy_meta(root, n=12, seed=0):
    """Yes/no colour questions on 64x64 images, plus two text-only lines."""
    rng = random.Random(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        colour = rng.choice(sorted(COLOURS))
        img = Image.new("RGB", (64, 64), (128, 128, 128))
        ImageDraw.Draw(img).ellipse((8, 8, 56, 56), fill=COLOURS[colour])
        img.save(root / "img" / f"{i}.png")
        asked = rng.choice(sorted(COLOURS))
        rows.append({"id": f"s{i}", "image": f"{i}.png", "conversations": [
            {"from": "human", "value": f"Is there a {asked} circle?"},
            {"from": "gpt", "value": "yes" if asked == colour else "no"}]})
    rows += [{"id": f"t{i}", "conversations": [{"from": "human", "value": "Say yes."},
                                               {"from": "gpt", "value": "yes"}]}
             for i in range(2)]
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = root / "meta.json"
    meta.write_text(json.dumps({"toy": {"root": str(root / "img"),
                                        "annotation": str(root / "train.jsonl"),
                                        "data_augment": False, "repeat_time": 1}}))
    return meta


@pytest.fixture()
def toy_meta(tmp_path):
    return write_toy_meta(tmp_path / "data")

