"""Issue 11 items 5 and 15 (eval): bad counts are argument errors; the default --out is the
pipeline's folder.

`--limit -1` silently dropped the last sample (`items[:-1]`); `--batch-size 0` / `-1` crashed
with a KeyError / a range() error after creating an empty predictions.jsonl; `eval` wrote to
results/BENCH where the pipeline writes results/<size>/<model>/<bench>.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image

from internvl_da.cli import main
from internvl_da.commands.eval import default_out, model_name
from internvl_da.eval.generate import GenerationSettings
from internvl_da.eval.runner import evaluate_files
from internvl_da.model.tiny import build_tiny_model
from internvl_da.params import default_params_path


@pytest.fixture()
def inputs(tmp_path):
    (tmp_path / "img").mkdir()
    records = []
    for i in range(2):
        Image.new("RGB", (32, 32), (90 * i, 0, 90)).save(tmp_path / f"img/{i}.tif")
        records.append({"id": i, "image": f"{i}.tif", "question": f"Bridge {i}?",
                        "gt_answer": "no", "type": "presence"})
    (tmp_path / "test.json").write_text(json.dumps(records))
    return tmp_path / "test.json", tmp_path / "img"


def _argv(inputs, *extra):
    return ["eval", "rsvqa-lr", "--size", "tiny", "--params", str(default_params_path()),
            "--annotation", str(inputs[0]), "--images", str(inputs[1]),
            "--max-new-tokens", "2", "--max-num", "2", *extra]


@pytest.mark.parametrize("option,value", [("--limit", "-1"), ("--limit", "0"),
                                          ("--batch-size", "0"), ("--batch-size", "-1"),
                                          ("--batch-size", "two"), ("--max-num", "0"),
                                          ("--max-new-tokens", "-5")])
def test_bad_counts_are_argument_errors_and_write_nothing(inputs, tmp_path, capsys, option,
                                                          value):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as caught:
        main(_argv(inputs, "--out", str(out), option, value))
    assert caught.value.code == 2
    assert f"argument {option}:" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("limit,batch_size,reason", [
    (-1, 1, r"limit must be a whole number >= 1 \(or none for all\), got -1"),
    (0, 1, "limit must be a whole number >= 1"),
    (True, 1, "limit must be a whole number >= 1"),
    (None, 0, r"batch size must be a whole number >= 1, got 0"),
    (None, 2.0, r"batch size must be a whole number >= 1, got 2\.0"),
])
def test_library_checks_counts_from_params_too(inputs, tmp_path, limit, batch_size, reason):
    """params.yaml eval.limit / eval.batch_size reach evaluate_files without argparse."""
    model, tok = build_tiny_model("qwen2", seed=0)
    with pytest.raises(ValueError, match=reason):
        evaluate_files("rsvqa-lr", model, tok, GenerationSettings("Hermes-2", 64, 4), *inputs,
                       tmp_path / "out", limit=limit, batch_size=batch_size)
    assert not (tmp_path / "out").exists()


def test_limit_one_evaluates_exactly_one(inputs, tmp_path, capsys):
    assert main(_argv(inputs, "--out", str(tmp_path / "out"), "--limit", "1")) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"presence": 1}


def test_default_out_is_the_pipeline_folder_regression_results_bench(inputs, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(_argv(inputs)) == 0
    assert (tmp_path / "results/tiny/base/rsvqa-lr/metrics.json").is_file()
    assert not (tmp_path / "results/rsvqa-lr").exists()


@pytest.mark.parametrize("checkpoint,name", [
    (None, "base"),
    ("models/1b/base", "base"),
    ("models/1b/released-remote/", "released-remote"),
    ("runs/tiny/remote/final", "remote"),
    ("runs/tiny/remote/checkpoint-200", "remote-checkpoint-200"),
    ("/data/my-finetune", "my-finetune"),
])
def test_model_names_follow_the_pipeline_layout(checkpoint, name):
    assert model_name(checkpoint) == name
    assert default_out("1b", checkpoint, "gmai") == f"results/1b/{name}/gmai"
