"""Every benchmark reads the sample's miniature of the released files through the same path
as `data: full` (released_inputs -> the module's loader -> evaluate_files)."""

from __future__ import annotations

import json
import os

import pytest

from internvl_da.eval import runner
from internvl_da.eval.benchmarks import BENCHMARKS, RELEASED, released_inputs
from internvl_da.prep.released import DA_DIR

LOCAL_DIRS = {"domain_adaptation": DA_DIR, "mme_realworld": "mme_realworld", "gmai": "gmai"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from internvl_da.prep.sample import generate_sample

    root = tmp_path_factory.mktemp("sample")
    generate_sample(root, seed=0, scale=1, show_progress=False)
    return root


@pytest.mark.parametrize("name", sorted(RELEASED))  # the released val files (not custom-*)
def test_released_val_files_load(sample, name):
    annotation, images = released_inputs(name, sample, LOCAL_DIRS, sample / "decoded")
    assert annotation.name == RELEASED[name].annotation.rsplit("/", 1)[-1]
    items = BENCHMARKS[name].load(annotation, images)
    assert items, f"{annotation}: no items"
    assert all(os.path.isfile(i["image"]) for i in items)
    assert len({i["id"] for i in items}) == len(items)
    assert all(i["question"].strip() for i in items)


def test_released_dior_rsvg_end_to_end(sample, tmp_path):
    from internvl_da.eval.generate import GenerationSettings
    from internvl_da.model.tiny import build_tiny_model

    annotation, images = released_inputs("dior-rsvg", sample, LOCAL_DIRS, sample / "decoded")
    model, tok = build_tiny_model("qwen2", seed=0)
    model.eval()
    settings = GenerationSettings("Hermes-2", image_size=64, tokens_per_tile=4)
    metrics = runner.evaluate_files("dior-rsvg", model, tok, settings, annotation, images,
                                    tmp_path / "out", options={"max_new_tokens": 4}, limit=2)
    assert metrics["total"] == 2
    first = json.loads((tmp_path / "out/predictions.jsonl").read_text().splitlines()[0])
    assert first["question"].startswith("Detect ") and "DIOR-RSVG/JPEGImages/" in first["image"]
