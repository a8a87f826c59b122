"""The runner: each benchmark reads its own data, resumes exactly, lists missing images."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from PIL import Image

from internvl_da.eval import runner
from internvl_da.eval.benchmarks import DEFAULT_OPTIONS
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
    # it names the model (issue 11 item 1): here the in-memory weights' sha256
    assert len(manifest["inputs"]["checkpoint"]["weights_sha256"]) == 64
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == [
        "identity.json", "metrics.json", "predictions.jsonl"]


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


def _gmai_tsv(path, image_path):
    import base64

    header = ["index", "question", "A", "B", "answer", "image", "department"]
    data = base64.b64encode(image_path.read_bytes()).decode()
    path.write_text("\t".join(header) + "\n" + "\t".join(
        ["1", "Which organ?", "liver", "spleen", "A", data, "Radiology"]) + "\n")


def test_gmai_runs_with_six_tiles_regression_global_max_num(tmp_path, monkeypatch):
    """Regression (issue 10 item 2): GMAI-MMBench ran with the global eval.max_num (12); the
    reference (VLMEvalKit) uses max_num 6 (evaluation.md §7.4). A 10:1 image gives 6 + 1
    tiles now, where 12 allowed 10 + 1; the manifest records the settings used."""
    from internvl_da.eval import generate

    wide = tmp_path / "wide.png"
    Image.new("RGB", (640, 64), (200, 30, 30)).save(wide)
    _gmai_tsv(tmp_path / "GMAI-MMBench_VAL.tsv", wide)
    model, tok, _ = model_and_settings()
    settings = GenerationSettings("Hermes-2", 64, 4, max_num=12, max_new_tokens=5)
    tiles = []
    real = runner.answer_batch

    def spy(model, tokenizer, used, questions, images):
        tiles.extend(generate.prompt_inputs(tokenizer, used, q, i)[1].shape[0]
                     for q, i in zip(questions, images, strict=True))
        assert used.max_new_tokens == 1024
        return real(model, tokenizer, replace(used, max_new_tokens=5), questions, images)

    monkeypatch.setattr(runner, "answer_batch", spy)
    runner.evaluate_files("gmai", model, tok, settings, tmp_path / "GMAI-MMBench_VAL.tsv",
                          tmp_path / "decoded", tmp_path / "out")
    assert tiles == [7]
    manifest = json.loads((tmp_path / "out.manifest.json").read_text())
    assert (manifest["config"]["max_num"], manifest["config"]["dynamic"]) == (6, True)
    # params.yaml eval.gmai overrides the reference default
    runner.evaluate_files("gmai", model, tok, settings, tmp_path / "GMAI-MMBench_VAL.tsv",
                          tmp_path / "decoded", tmp_path / "out12", options={"max_num": 12})
    assert tiles == [7, 11]


def test_benchmark_options_defaults_and_checked_overrides():
    assert runner.benchmark_options("gmai").max_num == 6
    assert runner.benchmark_options("drivelm") == runner.benchmark_options(
        "drivelm", {}) == runner.benchmark_options("drivelm", None)
    paper = {n: o for n, o in DEFAULT_OPTIONS.items() if not n.startswith("custom-")}
    assert {n: o.max_new_tokens for n, o in paper.items()} == {  # the user's domains: issue 14
        "drivelm": 200, "gmai": 1024, "mme-realworld": 100, "dior-rsvg": 200, "rsvqa-lr": 50,
        "rsvqa-hr-test1": 50, "rsvqa-hr-test2": 50}
    assert {o.max_num for n, o in paper.items() if n != "gmai"} == {12}
    assert runner.benchmark_options("rsvqa-lr", {"dynamic": False}).dynamic is False
    with pytest.raises(ValueError, match=r"eval\.gmai\.tiles: unknown setting"):
        runner.benchmark_options("gmai", {"tiles": 6})
    with pytest.raises(ValueError, match=r"eval\.gmai\.max_num: must be an integer >= 1"):
        runner.benchmark_options("gmai", {"max_num": 0})
    with pytest.raises(ValueError, match=r"eval\.dior-rsvg\.dynamic: must be true or false"):
        runner.benchmark_options("dior-rsvg", {"dynamic": "yes"})


def test_released_layout_is_read_as_it_is(tmp_path):
    """evaluate_files on the released val file and image folder, located by released_inputs
    from params.yaml's dataset folders (InternVL-Domain-Adaptation-Data names)."""
    root = tmp_path / "data/full"
    release = root / "hub/InternVL-Domain-Adaptation-Data"
    (release / "val").mkdir(parents=True)
    (release / "images/RSVQA_L/Images_LR").mkdir(parents=True)
    records = []
    for i in range(3):
        Image.new("RGB", (64, 64), (40 * i, 10, 10)).save(
            release / f"images/RSVQA_L/Images_LR/{i}.tif")
        records.append({"id": str(100 + i), "image": f"{i}.tif", "question": f"Road {i}?",
                        "gt_answer": "yes", "type": "presence"})
    (release / "val/rsvqa_l_test_instruct.json").write_text(json.dumps(records))
    local_dirs = {"domain_adaptation": "hub/InternVL-Domain-Adaptation-Data",
                  "mme_realworld": "mme_realworld", "gmai": "gmai"}
    annotation, images = runner.released_inputs("rsvqa-lr", root, local_dirs,
                                                tmp_path / "decoded")
    assert annotation == release / "val/rsvqa_l_test_instruct.json"
    assert runner.released_inputs("gmai", root, local_dirs, tmp_path / "d") == (
        root / "gmai/GMAI-MMBench_VAL.tsv", tmp_path / "d")
    model, tok, settings = model_and_settings()
    metrics = runner.evaluate_files("rsvqa-lr", model, tok, settings, annotation, images,
                                    tmp_path / "out", batch_size=2)
    assert metrics["counts"] == {"presence": 3}
    lines = (tmp_path / "out/predictions.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == [100, 101, 102]
    records.append(dict(records[0]))  # the same id twice: resuming would merge them
    (release / "val/rsvqa_l_test_instruct.json").write_text(json.dumps(records))
    with pytest.raises(ValueError, match=r"rsvqa_l_test_instruct\.json: id 100 appears twice "
                                         r"\(items 1 and 4\)"):
        runner.evaluate_files("rsvqa-lr", model, tok, settings, annotation, images,
                              tmp_path / "dup")
    with pytest.raises(ValueError, match="no folder for dataset 'domain_adaptation'"):
        runner.released_inputs("drivelm", root, {}, tmp_path)
