"""The runner: each benchmark reads its own data, resumes exactly, lists missing images."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from internvl_da.eval import runner
from internvl_da.eval.generate import GenerationSettings
from internvl_da.model.tiny import build_tiny_model


def test_rsvqa_names_run_their_own_split_regression_reference_key_swap():
    """The reference dispatcher ran HR test2 for `rsvqa-lr` and LR for `rsvqa-hr-test2`."""
    assert "rsvqa_lr" in runner.BENCHMARKS["rsvqa-lr"].annotation
    assert "LR" in runner.BENCHMARKS["rsvqa-lr"].image_root
    assert "hr_test2" in runner.BENCHMARKS["rsvqa-hr-test2"].annotation
    assert "hr_test1" in runner.BENCHMARKS["rsvqa-hr-test1"].annotation
    with pytest.raises(ValueError, match="choose from"):
        runner.get_benchmark("mme—realworld-typo")
    # The reference's em-dash name is accepted as an alias of the ASCII one.
    assert runner.get_benchmark("mme—realworld") is runner.get_benchmark("mme-realworld")


@pytest.fixture()
def bench_dirs(tmp_path):
    prepared, images = tmp_path / "prepared", tmp_path / "images"
    (prepared / "remote").mkdir(parents=True)
    (images / "rsvqa/LR/Images_LR").mkdir(parents=True)
    records = []
    for i in range(7):
        Image.new("RGB", (64, 64), (30 * i, 100, 50)).save(
            images / f"rsvqa/LR/Images_LR/{i}.tif")
        records.append({"id": i, "image": f"{i}.tif", "question": f"Is there a road {i}?",
                        "gt_answer": "yes" if i % 2 else "no", "type": "presence"})
    (prepared / "remote/rsvqa_lr_test.json").write_text(json.dumps(records))
    return prepared, images


def model_and_settings():
    model, tok = build_tiny_model("qwen2", seed=0)
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0, 0.3)
    model.eval()
    return model, tok, GenerationSettings("Hermes-2", 64, 4, 6)


def test_resumed_run_equals_uninterrupted(bench_dirs, tmp_path):
    prepared, images = bench_dirs
    model, tok, settings = model_and_settings()
    full = runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                                tmp_path / "full", batch_size=3)
    # "Interrupted" after 4 samples, then run again: finished ids are skipped.
    runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                         tmp_path / "resumed", limit=4, batch_size=2)
    resumed = runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                                   tmp_path / "resumed", batch_size=3)
    assert resumed == full
    full_lines = (tmp_path / "full/predictions.jsonl").read_text()
    assert (tmp_path / "resumed/predictions.jsonl").read_text() == full_lines
    assert set(json.loads(full_lines.splitlines()[0])) >= {"id", "question", "prediction",
                                                           "answer", "type"}
    # the run manifest sits beside the output folder (its git commit stays out of the hash)
    manifest = json.loads((tmp_path / "full.manifest.json").read_text())
    assert manifest["config"]["benchmark"] == "rsvqa-lr" and manifest["config"]["batch_size"] == 3
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["metrics.json",
                                                                     "predictions.jsonl"]


def test_missing_images_listed_before_generation(bench_dirs, tmp_path):
    prepared, images = bench_dirs
    (images / "rsvqa/LR/Images_LR/3.tif").unlink()
    model, tok, settings = model_and_settings()
    with pytest.raises(FileNotFoundError, match=r"1 images missing, e\.g\. .*3\.tif"):
        runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_two_rank_shards_merge_to_the_single_process_file(bench_dirs, tmp_path):
    prepared, images = bench_dirs
    model, tok, settings = model_and_settings()
    single = runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                                  tmp_path / "single", batch_size=2)
    # Each rank predicts its own shard (run here one after the other, without a process group).
    assert runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                                tmp_path / "sharded", batch_size=2, rank=1, world_size=2) == {}
    merged = runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                                  tmp_path / "sharded", batch_size=2, rank=0, world_size=2)
    assert merged == single
    assert (tmp_path / "sharded/predictions.jsonl").read_text() == \
        (tmp_path / "single/predictions.jsonl").read_text()
