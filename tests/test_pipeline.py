"""The multi-command pipeline stages on a generated sample: what dvc.yaml's stages run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from internvl_da import pipeline
from internvl_da.params import load_params
from internvl_da.prep.sample import generate_sample


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    generate_sample(root / "data/sample", seed=0, scale=1, show_progress=False)
    return root


@pytest.fixture
def params(workdir, monkeypatch):
    monkeypatch.chdir(workdir)  # the stages use the pipeline's relative layout
    loaded = load_params(Path(__file__).parents[1] / "params.yaml")
    return {**loaded, "eval": {**loaded["eval"], "limit": 4}}


def test_prepare_stages_write_the_declared_outputs(params, workdir):
    pipeline.prepare_remote(params)
    pipeline.prepare_medical(params)
    prepared = workdir / "data/prepared/sample"
    for name in ("rsvqa_lr_train.jsonl", "rsvqa_lr_test.json", "rsvqa_hr_test1.json",
                 "rsvqa_hr_test2.json", "dior_rsvg_train.jsonl", "dior_rsvg_test.json"):
        assert (prepared / "remote" / name).stat().st_size > 0
    meta = json.loads((prepared / "meta/remote.json").read_text())
    assert {"general", "rsvqa_lr", "rsvqa_hr", "dior_rsvg", "geochat"} <= set(meta)
    assert sorted((prepared / "gmai/images").glob("*.png"))  # decoded once, before evaluation


def test_base_model_and_evaluation_layout(params, workdir):
    pipeline.prepare_remote(params)
    pipeline.base_model(params, "models/tiny/base")
    pipeline.evaluate(params, "rsvqa-lr", "results/tiny", {"base": "models/tiny/base"})
    out = workdir / "results/tiny/base/rsvqa-lr"
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 4  # eval.limit
    assert "per_type" in json.loads((out / "metrics.json").read_text())


def test_missing_raw_data_names_the_fix(params):
    with pytest.raises(FileNotFoundError, match=r"data/full: missing .*README's 'Real data'"):
        pipeline.prepare_remote({**params, "data": "full"})


def test_dvc_yaml_names_every_stage_and_reads_declared_params():
    from pathlib import Path

    root = Path(__file__).parents[1]
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    assert set(stages) == {
        "sample_data", "stitch_drivelm", "prepare_drivelm", "prepare_medical", "prepare_remote",
        "base_model", "finetune_drivelm", "finetune_medical", "finetune_remote", "eval_drivelm",
        "eval_mme_realworld", "eval_gmai", "eval_rsvqa", "eval_dior_rsvg", "report"}
    params = yaml.safe_load((root / "params.yaml").read_text())
    for name, stage in stages.items():
        if "internvl-da stage" in stage["cmd"]:  # its code must be a dependency
            assert "src/internvl_da/pipeline.py" in stage["deps"], name
        for key in stage.get("params", []):
            head = key.split(".")[0]
            assert head in params, (name, key)
        for out in stage.get("outs", []):
            path = next(iter(out)) if isinstance(out, dict) else out
            assert "${size}" in path or "${data}" in path or name == "sample_data", (name, path)


def test_fetch_data_needs_full_data_and_pinned_revisions(params):
    with pytest.raises(ValueError, match="fetch-data is for data: full"):
        pipeline.fetch_data(params)
    with pytest.raises(ValueError, match="InternVL-Domain-Adaptation-Data: revision None is "
                                         "not pinned"):
        pipeline.fetch_data({**params, "data": "full"})


def test_fetch_data_downloads_pinned_and_lists_manual_parts(params, workdir, monkeypatch):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo, **kw: calls.append((repo, kw["revision"], kw["repo_type"])))
    sha = "0123456789abcdef0123456789abcdef01234567"
    datasets = {k: {**v, "revision": sha} for k, v in params["datasets"].items()}
    (workdir / "data/full/rsvqa").mkdir(parents=True)  # one manual part present
    missing = pipeline.fetch_data({**params, "data": "full", "datasets": datasets})
    assert calls == [(v["hub_id"], sha, "dataset") for v in datasets.values()]
    assert [m.split(":")[0] for m in missing] == ["drivelm", "dior_rsvg"]
    (workdir / "data/full/gmai").mkdir(parents=True)
    (workdir / "data/full/gmai/GMAI-MMBench_VAL.tsv").write_text("not the release\n")
    with pytest.raises(ValueError, match=r"GMAI-MMBench_VAL\.tsv: MD5 differs"):
        pipeline.fetch_data({**params, "data": "full", "datasets": datasets})
