"""`internvl-da eval`: settings per benchmark, explicit files, released layout from params."""

from __future__ import annotations

import argparse
import json

import yaml
from PIL import Image

from internvl_da.cli import main
from internvl_da.commands.eval import bench_options
from internvl_da.params import default_params_path


def _args(**given) -> argparse.Namespace:
    return argparse.Namespace(**{"max_num": None, "no_dynamic": False, "max_new_tokens": None,
                                 **given})


def test_bench_options_params_then_command_line():
    params = {"eval": {"gmai": {"max_num": 6, "dynamic": True, "max_new_tokens": 1024}}}
    assert bench_options(_args(), params, "gmai") == params["eval"]["gmai"]
    assert bench_options(_args(max_num=2, no_dynamic=True), params, "gmai") == {
        "max_num": 2, "dynamic": False, "max_new_tokens": 1024}
    assert bench_options(_args(max_new_tokens=7), {"eval": {}}, "drivelm") == {
        "max_new_tokens": 7}


def _rsvqa(folder, n=3):
    (folder / "Images_LR").mkdir(parents=True)
    records = []
    for i in range(n):
        Image.new("RGB", (32, 32), (50 * i, 0, 0)).save(folder / f"Images_LR/{i}.tif")
        records.append({"id": i, "image": f"{i}.tif", "question": f"Road {i}?",
                        "gt_answer": "no", "type": "presence"})
    (folder / "rsvqa_l_test_instruct.json").write_text(json.dumps(records))


def _params(tmp_path, **changes):
    params = yaml.safe_load(default_params_path().read_text())
    params.update(changes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_eval_on_an_explicit_file_with_overrides(tmp_path, capsys):
    _rsvqa(tmp_path / "lr")
    out = tmp_path / "out"
    assert main(["eval", "rsvqa-lr", "--size", "tiny", "--params", str(_params(tmp_path)),
                 "--annotation", str(tmp_path / "lr/rsvqa_l_test_instruct.json"),
                 "--images", str(tmp_path / "lr/Images_LR"), "--out", str(out),
                 "--max-num", "2", "--max-new-tokens", "3", "--limit", "2"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["counts"] == {"presence": 2}
    config = json.loads((tmp_path / "out.manifest.json").read_text())["config"]
    assert (config["max_num"], config["dynamic"], config["max_new_tokens"]) == (2, True, 3)
    capsys.readouterr()
    assert main(["eval", "rsvqa-lr", "--params", str(_params(tmp_path)),
                 "--annotation", "x.json"]) == 2
    assert "--annotation and --images go together" in capsys.readouterr().err


def test_eval_reads_the_released_layout_from_params(tmp_path, capsys, monkeypatch):
    """source: released -> the val file under data/<data>/<datasets.domain_adaptation.local_dir>."""
    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load(default_params_path().read_text())
    release = tmp_path / "data" / params["data"] / \
        params["datasets"]["domain_adaptation"]["local_dir"]
    _rsvqa(release / "val", n=2)
    (release / "images/RSVQA_L").mkdir(parents=True)
    (release / "val/Images_LR").rename(release / "images/RSVQA_L/Images_LR")
    path = _params(tmp_path, source="released")
    assert main(["eval", "rsvqa-lr", "--size", "tiny", "--params", str(path),
                 "--max-new-tokens", "2", "--out", "res"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"presence": 2}
    manifest = json.loads((tmp_path / "res.manifest.json").read_text())
    assert manifest["inputs"]["annotation"].endswith("val/rsvqa_l_test_instruct.json")
