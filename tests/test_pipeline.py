"""The multi-command pipeline stages on a generated sample: what dvc.yaml's stages run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from internvl_da import pipeline
from internvl_da.params import load_params, meta_path
from internvl_da.prep.meta import INTERNVL_1_2_GENERAL
from internvl_da.prep.sample import generate_sample

ROOT = Path(__file__).parents[1]
DA = "InternVL-Domain-Adaptation-Data"
RELEASED_VAL = {  # evaluation.md §3.1, §4.1, §6.1: the paper's val files and image folders
    "drivelm": (f"{DA}/val/drivelm_val.jsonl", f"{DA}/images/drivelm/stitch"),
    "rsvqa-lr": (f"{DA}/val/rsvqa_l_test_instruct.json", f"{DA}/images/RSVQA_L/Images_LR"),
    "rsvqa-hr-test1": (f"{DA}/val/rsvqa_h_test_1_instruct.json", f"{DA}/images/RSVQA-H/Data"),
    "rsvqa-hr-test2": (f"{DA}/val/rsvqa_h_test_2_instruct.json", f"{DA}/images/RSVQA-H/Data"),
    "dior-rsvg": (f"{DA}/val/dior_rsvg_test.json", f"{DA}/images"),
    "mme-realworld": ("mme_realworld/MME_RealWorld.json", "mme_realworld/data"),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    generate_sample(root / "data/sample", seed=0, scale=1, show_progress=False)
    return root


@pytest.fixture
def params(workdir, monkeypatch):
    monkeypatch.chdir(workdir)  # the stages use the pipeline's relative layout
    loaded = load_params(ROOT / "params.yaml")
    return {**loaded, "eval": {**loaded["eval"], "limit": 2}}


def _miniature_release(workdir: Path) -> dict[str, dict]:
    """data/full: the released layout with the released file names, and a drivelm meta whose
    nine general entries and domain entry each carry their own repeat_time and length."""
    full = workdir / "data/full"
    if full.exists():
        shutil.rmtree(full)
    for part in (DA, "playground", "mme_realworld", "gmai"):
        shutil.copytree(workdir / "data/sample" / part, full / part)
    released = json.loads((full / DA / "train_meta/internvl_1_2_finetune_drivelm.json")
                          .read_text())
    repeats = (0.5, 0.34, 0.75, 0.5, 1, 0.4, 0.6, 0.5, 0.67)  # each keeps >= 1 of 3 lines
    meta = {}
    for (name, entry), repeat in zip(list(released.items())[:9], repeats, strict=True):
        meta[name] = {**entry, "repeat_time": repeat, "length": 1000 + len(meta)}
    meta["drivelm_train"] = {**released["drivelm_train"], "repeat_time": 2,
                             "max_dynamic_patch": 6}
    (full / DA / "train_meta/internvl_1_2_finetune_drivelm.json").write_text(json.dumps(meta))
    return meta


def test_full_data_trains_on_the_released_meta_and_evaluates_released_val(params, workdir):
    """Issue 10 acceptance: data: full reads the released train_meta as it is (the nine general
    entries, the domain entry, each repeat_time and every other key) with paths resolved under
    data/full, writes it where the fine-tune reads it, and evaluates on the released val files."""
    reference = _miniature_release(workdir)
    full = {**params, "data": "full"}
    pipeline.released_meta(full, "drivelm")
    meta = json.loads(meta_path(full, "drivelm").read_text())
    assert list(meta) == [*INTERNVL_1_2_GENERAL, "drivelm_train"]
    for name, entry in reference.items():
        assert meta[name] == {**entry, "root": f"data/full/{entry['root']}",
                              "annotation": f"data/full/{entry['annotation']}"}
    finetune = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["finetune_drivelm"]
    assert "--meta data/prepared/${data}/${source}/meta/drivelm.json" in finetune["cmd"]
    assert meta_path(full, "drivelm") == Path("data/prepared/full/released/meta/drivelm.json")
    for bench, (annotation, images) in RELEASED_VAL.items():
        assert pipeline.eval_inputs(full, bench) == (Path("data/full", annotation),
                                                     Path("data/full", images)), bench
    assert pipeline.eval_inputs(full, "gmai") == (Path("data/full/gmai/GMAI-MMBench_VAL.tsv"),
                                                  Path("data/prepared/full/gmai/images"))
    pipeline.base_model(full, "models/tiny/base")
    pipeline.evaluate(full, "rsvqa-lr", "results/tiny", {"base": "models/tiny/base"})
    out = workdir / "results/tiny/base/rsvqa-lr"
    records = [json.loads(s) for s in (out / "predictions.jsonl").read_text().splitlines()]
    released = json.loads((workdir / "data/full" / RELEASED_VAL["rsvqa-lr"][0]).read_text())
    assert [r["id"] for r in records] == [r["id"] for r in released[:2]]  # eval.limit 2


def test_sample_runs_the_released_path(params, workdir):
    """The default pipeline (data: sample) resolves the same released files, under data/sample."""
    for bench, (annotation, images) in RELEASED_VAL.items():
        assert pipeline.eval_inputs(params, bench) == (Path("data/sample", annotation),
                                                       Path("data/sample", images))
        assert (workdir / "data/sample" / annotation).is_file()
    for domain in ("drivelm", "medical", "remote"):
        pipeline.released_meta(params, domain)
        assert list(json.loads(meta_path(params, domain).read_text()))[:9] == \
            list(INTERNVL_1_2_GENERAL)


def test_raw_source_swaps_in_the_projects_conversions(params, workdir):
    raw = {**params, "source": "raw"}
    pipeline.prepare_remote(raw)
    pipeline.prepare_medical(raw)
    prepared = workdir / "data/prepared/sample/raw"
    remote = json.loads(meta_path(raw, "remote").read_text())
    assert remote["rsvqa_hr_train_instruct_100k"]["annotation"] == \
        "data/prepared/sample/raw/remote/rsvqa_hr_train.jsonl"
    assert remote["dior_rsvg_instruct_26k"]["root"] == "data/sample/dior_rsvg"
    assert remote["geochat_instruct"]["annotation"] == \
        f"data/sample/{DA}/train_data/geochat_instruct.jsonl"  # no raw conversion: released
    assert (prepared / "remote/rsvqa_hr_test1.json").stat().st_size > 0
    assert pipeline.eval_inputs(raw, "rsvqa-lr") == (
        Path("data/prepared/sample/raw/remote/rsvqa_lr_test.json"),
        Path("data/sample/rsvqa/LR/Images_LR"))
    pipeline.released_meta(params, "medical")  # medical has no raw conversion: the same meta
    assert meta_path(raw, "medical").read_bytes() == meta_path(params, "medical").read_bytes()


def test_validate_and_baseline_stages(params, workdir):
    pipeline.base_model(params, "models/tiny/base")
    pipeline.released_meta(params, "medical")
    assert pipeline.validate(params, "medical") == 0
    assert pipeline.validate_path(params, "medical").read_text() == ""  # no rejects
    pipeline.released_model(params, "medical", "models/tiny/released-medical")
    record = json.loads((workdir / "revisions/tiny/released-medical.json").read_text())
    assert record["hub_id"] is None and "in-process" in record["note"]
    pipeline.decode_gmai(params)
    pipeline.evaluate(params, "gmai", "results/tiny",
                      {"released-medical": "models/tiny/released-medical"})
    manifest = json.loads((workdir / "results/tiny/released-medical/gmai.manifest.json")
                          .read_text())
    assert manifest["config"]["max_num"] == 6  # eval.gmai, VLMEvalKit's tiles (§7.4)


def test_missing_released_data_names_the_fix(params):
    with pytest.raises(FileNotFoundError, match=r"internvl_1_2_finetune_remote\.json"):
        pipeline.released_meta({**params, "data": "nothing"}, "remote")


def test_dvc_yaml_names_every_stage_and_reads_declared_params():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    per_domain = [f"{kind}_{d}" for kind in ("released_meta", "validate", "finetune", "baseline")
                  for d in ("drivelm", "medical", "remote")]
    assert set(stages) == {
        "sample_data", "stitch_drivelm", "prepare_drivelm", "prepare_medical", "prepare_remote",
        "decode_gmai", "base_model", *per_domain, "eval_drivelm", "eval_mme_realworld",
        "eval_gmai", "eval_rsvqa", "eval_dior_rsvg", "report", "custom_general",
        "custom_eval_general", *(f"custom_{k}" for k in ("prepare", "validate", "finetune",
                                                          "eval"))}
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, declared in stages.items():
        stage = declared.get("do", declared)  # foreach stages: one per custom domain
        if "internvl-da stage" in stage["cmd"]:  # its code must be a dependency
            assert "src/internvl_da/pipeline.py" in stage["deps"], name
        if "internvl-da custom" in stage["cmd"] and "validate" not in stage["cmd"]:
            assert "src/internvl_da/pipeline_custom.py" in stage["deps"], name
        for key in stage.get("params", []):
            assert key.split(".")[0] in params, (name, key)
        for out in stage.get("outs", []):
            path = next(iter(out)) if isinstance(out, dict) else out
            assert "${size}" in path or "${data}" in path or name == "sample_data", (name, path)
    for domain in ("drivelm", "medical", "remote"):
        deps = stages[f"finetune_{domain}"]["deps"]
        validate = f"data/prepared/${{data}}/validate/${{family_dir}}${{size}}/{domain}"
        assert f"{validate}.rejects.jsonl" in deps
    report = stages["report"]["deps"]
    assert "results/${family_dir}${size}/released-remote/dior-rsvg" in report
    assert "results/${family_dir}${size}/released-medical/gmai" in report


def test_stage_command_runs_the_per_domain_stages(params, workdir, capsys):
    from internvl_da.cli import main

    assert main(["stage", "released-meta", "--domain", "remote"]) == 0
    assert "remote.json: 13 datasets" in capsys.readouterr().out
    assert main(["stage", "validate"]) == 2
    assert "validate needs --domain" in capsys.readouterr().err


def test_custom_domains_prepare_holdout_and_mix(params):
    """Issue 14: the general held-out items leave the general files the fine-tunes read, and
    each declared sample domain's mix holds general_ratio x its lines of general data."""
    from internvl_da import pipeline_custom
    from internvl_da.custom_domains import domain_dir, general_dir

    print(pipeline_custom.general_holdout(params))
    general = general_dir(Path("data/prepared/sample"))
    holdout = [json.loads(x) for x in (general / "holdout.jsonl").read_text().splitlines()]
    assert len(holdout) == params["custom"]["general_holdout"]
    assert len({h["id"].split(":")[0] for h in holdout}) > 1  # spread over the datasets
    kept = {name: (general / "train" / f"{name}.jsonl").read_text().splitlines()
            for name in INTERNVL_1_2_GENERAL}
    for item in holdout:
        name = item["id"].split(":")[0]
        assert item["conversations"][0]["value"].endswith("single word or phrase.")
        assert Path(item["image"]).is_file()
        source = Path(json.loads((general / "general.json").read_text())[name]["root"])
        assert all(json.loads(x).get("image") != str(Path(item["image"]).relative_to(source))
                   for x in kept[name] if x.strip())
    for name, entry in params["custom"]["domains"].items():
        print(pipeline_custom.prepare(params, name))
        mix = json.loads(meta_path(params, name).read_text())
        assert meta_path(params, name) == domain_dir(Path("data/prepared/sample"), name) / \
            "mix.json"
        assert list(mix)[-1] == name and mix[name]["repeat_time"] == 1
        train = len((domain_dir(Path("data/prepared/sample"), name) / "train.jsonl")
                    .read_text().splitlines())
        from internvl_da.data.formats import JsonlIndex, select_lines
        general_lines = sum(len(select_lines(len(JsonlIndex(e["annotation"])), e["repeat_time"]))
                            for n, e in mix.items() if n != name)
        assert general_lines == round(entry["general_ratio"] * train)


def test_custom_stages_cover_the_declared_domains():
    """dvc.yaml's foreach stages read params.yaml custom.domains; the report reads their results."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for kind in ("prepare", "validate", "finetune", "eval"):
        assert stages[f"custom_{kind}"]["foreach"] == "${custom.domains}"
    assert "results/${family_dir}${size}/custom" in stages["report"]["deps"]
    assert "results/${family_dir}${size}/metrics/custom.json" in stages["report"]["metrics"]
    assert stages["custom_eval"]["do"]["outs"] == [
        "results/${family_dir}${size}/custom/base/${key}",
        "results/${family_dir}${size}/custom/${key}/${key}",
        "results/${family_dir}${size}/custom/${key}/general"]


def test_mix_counts_follow_the_ratio():
    from internvl_da.pipeline_custom import _repeat, mix_counts

    assert mix_counts({"a": 10, "b": 30}, 8) == {"a": 2, "b": 6}
    assert mix_counts({"a": 10, "b": 30}, 100) == {"a": 10, "b": 30}  # at most what exists
    assert mix_counts({"a": 1, "b": 1, "c": 1}, 2) == {"a": 1, "b": 1}  # 0 lines: left out
    assert mix_counts({"a": 5}, 0) == {}
    assert all(int(n * _repeat(c, n)) == c for n in range(1, 60) for c in range(1, n + 1))


def test_family_tree_in_every_model_path_and_internvl2_paths_unchanged():
    """Issue 13: every models/runs/results/revisions/validate path is `${family_dir}${size}`, so
    with InternVL2's family_dir "" each renders exactly as before (models/tiny/base: the
    committed dvc.lock keeps its paths), and every stage reading `size` reads the family too."""
    import re

    text = (ROOT / "dvc.yaml").read_text()
    assert not re.search(r"(models|runs|results|revisions|validate)/\$\{size\}", text)
    rendered = text.replace("${family_dir}", "")
    for path in ("models/${size}/base", "runs/${size}/remote/final",
                 "results/${size}/released-remote/dior-rsvg", "revisions/${size}/base.json",
                 "validate/${size}/remote.rejects.jsonl"):
        assert path in rendered
    for name, stage in yaml.safe_load(text)["stages"].items():
        body = stage.get("do", stage)
        if "size" in body.get("params", []):
            assert {"family", "family_dir"} <= set(body["params"]), name


def test_internvl35_has_no_released_checkpoint(params, tmp_path, monkeypatch):
    """The baseline stages of family internvl3.5: the model folder and each result say why
    (NOT_APPLICABLE.json), nothing is downloaded or evaluated."""
    p35 = {**params, "family": "internvl3.5", "family_dir": "internvl3.5-"}
    model = tmp_path / "models/internvl3.5-tiny/released-remote"
    monkeypatch.chdir(tmp_path)
    pipeline.released_model(p35, "remote", model)
    record = json.loads(Path("revisions/internvl3.5-tiny/released-remote.json").read_text())
    assert record["note"] == "no released DA checkpoint for InternVL3.5"
    assert pipeline.applicable(model) == "no released DA checkpoint for InternVL3.5"
    pipeline.evaluate(p35, "dior-rsvg", tmp_path / "results", {"released-remote": str(model)})
    out = tmp_path / "results/released-remote/dior-rsvg"
    assert sorted(p.name for p in out.iterdir()) == ["NOT_APPLICABLE.json"]
    assert pipeline.applicable(tmp_path / "models") is None
