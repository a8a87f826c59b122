"""Issue 11 item 1: `eval` resumes only into a folder whose predictions this run produced.

Evaluating the adapted model, then the untrained base model into the same `--out`, exited 0 and
reported the adapted model's score for the base model. The folder's identity.json (weights
sha256, benchmark, annotation sha256, settings) now makes such a resume refuse, naming what
differs, unless `force`; the manifest names the checkpoint.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image

from internvl_da.cli import main
from internvl_da.eval.generate import GenerationSettings
from internvl_da.eval.runner import evaluate_files
from internvl_da.model.tiny import build_tiny_model
from internvl_da.params import default_params_path

SETTINGS = GenerationSettings("Hermes-2", 64, 4)
OPTIONS = {"max_new_tokens": 3, "max_num": 2}


def _rsvqa(folder, n=3, question="Road"):
    (folder / "img").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        Image.new("RGB", (32, 32), (60 * i, 20, 0)).save(folder / f"img/{i}.tif")
        records.append({"id": i, "image": f"{i}.tif", "question": f"{question} {i}?",
                        "gt_answer": "yes", "type": "presence"})
    annotation = folder / "test.json"
    annotation.write_text(json.dumps(records))
    return annotation, folder / "img"


def _run(model, tok, annotation, images, out, **kw):
    return evaluate_files("rsvqa-lr", model, tok, SETTINGS, annotation, images, out,
                          options={**OPTIONS, **kw.pop("options", {})}, batch_size=2, **kw)


@pytest.fixture()
def inputs(tmp_path):
    return _rsvqa(tmp_path / "data")


def test_another_model_is_refused_regression_score_of_the_wrong_model(inputs, tmp_path):
    adapted, tok = build_tiny_model("qwen2", seed=1)
    base, _ = build_tiny_model("qwen2", seed=0)
    out = tmp_path / "out"
    _run(adapted, tok, *inputs, out, limit=2)  # interrupted after 2 of 3
    kept = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ValueError, match=r"out: holds predictions of another run "
                                         r"\(checkpoint\.weights_sha256: \"[0-9a-f]{16}.*\"\); "
                                         r"refusing to resume into it: choose another --out, or "
                                         r"rerun with --force"):
        _run(base, tok, *inputs, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == kept  # nothing touched
    # --force starts fresh: the same bytes as the base model in an empty folder
    forced = _run(base, tok, *inputs, out, force=True)
    assert forced == _run(base, tok, *inputs, tmp_path / "fresh")
    assert (out / "predictions.jsonl").read_bytes() == \
        (tmp_path / "fresh/predictions.jsonl").read_bytes()


def test_other_inputs_or_settings_are_refused_and_moved_inputs_are_not(inputs, tmp_path):
    model, tok = build_tiny_model("qwen2", seed=0)
    out = tmp_path / "out"
    _run(model, tok, *inputs, out, limit=1)
    with pytest.raises(ValueError, match=r"settings\.max_num: 2 -> 3"):
        _run(model, tok, *inputs, out, options={"max_num": 3})
    with pytest.raises(ValueError, match=r"settings\.dtype: \"torch\.float32\" -> "
                                         r"\"torch\.float64\""):
        _run(model.double(), tok, *inputs, out)
    model.float()
    other = _rsvqa(tmp_path / "other", question="Water")
    with pytest.raises(ValueError, match=r"annotation\.sha256: "):
        _run(model, tok, *other, out)
    # the same file content and images under another path: the same run, it resumes
    moved = _rsvqa(tmp_path / "moved")
    assert _run(model, tok, *moved, out) == _run(model, tok, *inputs, tmp_path / "whole")


def test_predictions_without_identity_are_refused(inputs, tmp_path):
    model, tok = build_tiny_model("qwen2", seed=0)
    out = tmp_path / "out"
    _run(model, tok, *inputs, out, limit=1)
    (out / "identity.json").unlink()  # written by an older version or another tool
    with pytest.raises(ValueError, match=r"out: holds predictions\.jsonl but no identity\.json"):
        _run(model, tok, *inputs, out)
    (out / "identity.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"identity\.json:1: invalid JSON"):
        _run(model, tok, *inputs, out)


def test_cli_refuses_another_checkpoint_and_the_manifest_names_it(inputs, tmp_path, capsys):
    folders = {}
    for seed, name in ((0, "base"), (1, "remote")):
        model, tok = build_tiny_model("qwen2", seed=seed)
        folders[name] = tmp_path / "models" / name
        model.save_pretrained(folders[name])
        tok.save_pretrained(folders[name])
    annotation, images = inputs
    common = ["eval", "rsvqa-lr", "--size", "tiny", "--params", str(default_params_path()),
              "--annotation", str(annotation), "--images", str(images), "--max-new-tokens",
              "2", "--max-num", "2", "--out", str(tmp_path / "res")]
    assert main([*common, "--checkpoint", str(folders["remote"])]) == 0
    remote = (tmp_path / "res/metrics.json").read_text()
    manifest = json.loads((tmp_path / "res.manifest.json").read_text())
    assert manifest["inputs"]["checkpoint"]["path"] == str(folders["remote"])
    capsys.readouterr()
    assert main([*common, "--checkpoint", str(folders["base"])]) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # above it: transformers' loading progress bar
    assert last.startswith("internvl-da: ") and "holds predictions of another run" in last
    assert "--force" in last and "Traceback" not in err
    assert (tmp_path / "res/metrics.json").read_text() == remote
    assert main([*common, "--checkpoint", str(folders["base"]), "--force"]) == 0
    manifest = json.loads((tmp_path / "res.manifest.json").read_text())
    assert manifest["inputs"]["checkpoint"]["path"] == str(folders["base"])
