"""Shared test setup: one thread, fixed seeds (the determinism envelope of internvl_da.repro)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from internvl_da import repro


@pytest.fixture(autouse=True)
def _envelope():
    repro.configure(seed=0, threads=1)
    yield


def _write_rsvqa_lr(annotation: Path, images: Path, n: int, question: str = "Is there a road {i}?",
                    size: tuple[int, int] = (64, 48)) -> tuple[Path, Path]:
    """An RSVQA-LR-style test file (the released `rsvqa_l_test_instruct.json` records): `n`
    presence questions on `n` small images `i.tif`, answers alternating no/yes."""
    images.mkdir(parents=True, exist_ok=True)
    annotation.parent.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        Image.new("RGB", size, ((40 * i) % 256, 90, 60)).save(images / f"{i}.tif")
        records.append({"id": i, "image": f"{i}.tif", "question": question.format(i=i),
                        "gt_answer": "yes" if i % 2 else "no", "type": "presence"})
    annotation.write_text(json.dumps(records))
    return annotation, images


@pytest.fixture
def write_rsvqa_lr():
    """`write_rsvqa_lr(annotation, images, n, question=..., size=...)` -> (annotation, images)."""
    return _write_rsvqa_lr
