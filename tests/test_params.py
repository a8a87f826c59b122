"""params.yaml: the recipe values of spec training.md §3, and clear errors on bad files."""

from __future__ import annotations

import copy

import pytest
import yaml

from internvl_da.params import ParamsError, check_params, load_params, train_settings
from internvl_da.train.recipe import recipe

# training.md §3, written out from the spec's table: (size, domain) ->
# (max_steps, gradient_accumulation_steps, save_steps, save_total_limit)
SCRIPTS = {
    ("1b", "drivelm"): (15100, 1, 700, 3), ("1b", "medical"): (2200, 8, 700, 3),
    ("1b", "remote"): (2500, 8, 500, 3), ("2b", "drivelm"): (15100, 1, 700, 3),
    ("2b", "medical"): (2200, 8, 700, 3), ("2b", "remote"): (2500, 8, 500, 7),
    ("4b", "drivelm"): (15100, 1, 700, 3), ("4b", "medical"): (2200, 8, 700, 3),
    ("4b", "remote"): (2500, 8, 700, 3),
}


@pytest.fixture(scope="module")
def params():
    return load_params()


def test_recipe_matches_the_twelve_scripts(params):
    for (size, domain), expected in SCRIPTS.items():
        cfg = recipe(size, domain, params)
        got = (cfg.max_steps, cfg.gradient_accumulation_steps, cfg.save_steps,
               cfg.save_total_limit)
        assert got == expected, (size, domain)
        # §4-§7: the shared settings
        assert (cfg.learning_rate, cfg.weight_decay, cfg.warmup_ratio) == (1e-5, 0.01, 0.03)
        assert (cfg.drop_path_rate, cfg.max_seq_length, cfg.max_dynamic_patch) == (0.1, 8192, 12)
        assert cfg.adam_betas == (0.9, 0.999) and cfg.lr_scheduler == "cosine"
        assert cfg.decay_all_parameters and cfg.packing and cfg.deepspeed_stage == 1
    assert recipe("1b", "remote", params).warmup_steps == 75
    assert recipe("1b", "drivelm", params).warmup_steps == 453
    assert recipe("4b", "medical", params).warmup_steps == 66


def test_tiny_profile_and_user_keys(params):
    cfg = recipe("tiny-phi3", "drivelm", params)  # the family variants share `tiny`
    assert (cfg.max_steps, cfg.learning_rate, cfg.deepspeed_stage) == (300, 2e-3, 0)
    changed = {**copy.deepcopy(params), "freeze_vit": True, "lora_llm": 8, "seed": 7}
    cfg = recipe("1b", "remote", changed, max_steps=3)
    assert (cfg.freeze_vit, cfg.lora_llm, cfg.seed, cfg.max_steps) == (True, 8, 7, 3)


def test_bad_names_are_errors(params):
    with pytest.raises(ValueError, match="unknown domain"):
        recipe("1b", "bdd", params)
    with pytest.raises(ValueError, match="unknown training settings"):
        recipe("1b", "remote", params, learning_rat=1)
    with pytest.raises(ValueError, match="unknown model size"):
        train_settings(params, "8b", "remote")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda p: p["train"].update(learning_rat=1.0),
     r"train\.learning_rat: unknown key \(valid: .*learning_rate"),
    (lambda p: p["train"].pop("weight_decay"), r"train\.weight_decay: missing key"),
    (lambda p: p.update(freeze_vit="yes"), r"freeze_vit: expected bool, got str \('yes'\)"),
    (lambda p: p["recipe"]["2b"]["remote"].update(max_steps=2.5),
     r"recipe\.2b\.remote\.max_steps: expected int, got float"),
    (lambda p: p["train"].update(adam_betas=[0.9]),
     r"train\.adam_betas: expected a list of 2 numbers"),
    (lambda p: p.update(size="8b"), r"size: '8b' is not one of tiny, 1b, 2b, 4b"),
    (lambda p: p["models"]["4b"].update(template="Hermes-2"),
     r"models\.4b\.template: 'Hermes-2', but this model was trained with 'phi3-chat'"),
    (lambda p: p["eval"].update(limit="all"), r"eval\.limit: expected int or null"),
    (lambda p: p.pop("eval"), r"eval: missing key"),
    (lambda p: p["eval"].update(max_num=12), r"eval\.max_num: unknown key"),  # per benchmark now
    (lambda p: p["eval"]["gmai"].pop("max_num"), r"eval\.gmai\.max_num: missing key"),
    (lambda p: p["eval"]["dior-rsvg"].update(max_new_tokens=0),
     r"eval\.dior-rsvg\.max_new_tokens: must be >= 1"),
    (lambda p: p["eval"]["rsvqa-lr"].update(dynamic="yes"),
     r"eval\.rsvqa-lr\.dynamic: expected bool"),
    (lambda p: p.update(source="converted"), r"source: 'converted' is not one of released, raw"),
    (lambda p: p["released"]["2b"].pop("remote"), r"released\.2b\.remote: missing key"),
    (lambda p: p["released"]["1b"]["drivelm"].update(template="x"),
     r"released\.1b\.drivelm\.template: unknown key"),
])
def test_bad_params_name_the_key(params, edit, message):
    bad = copy.deepcopy(params)
    edit(bad)
    with pytest.raises(ParamsError, match=message):
        check_params(bad, "params.yaml")


def test_floats_written_by_dvc_overrides_are_read(tmp_path, params):
    text = yaml.safe_dump({**params, "train": {**params["train"], "learning_rate": "1e-4"}})
    assert yaml.safe_load(text)["train"]["learning_rate"] == "1e-4"  # YAML 1.1 reads a string
    (tmp_path / "params.yaml").write_text(text)
    assert recipe("1b", "remote", load_params(tmp_path / "params.yaml")).learning_rate == 1e-4


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ParamsError, match="no such params file"):
        load_params(tmp_path / "none.yaml")
    (tmp_path / "p.yaml").write_text("size: [tiny\n")
    with pytest.raises(ParamsError, match=r"p\.yaml: invalid YAML"):
        load_params(tmp_path / "p.yaml")


def test_eval_settings_per_benchmark_match_the_references(params):
    """Issue 10: GMAI-MMBench ran with 12 tiles (one global eval.max_num); VLMEvalKit uses 6
    (evaluation.md §7.4). Every benchmark has its own settings, equal to the reference's
    (the eval registry's defaults), and the two lists of benchmark names agree."""
    from internvl_da.eval.benchmarks import BENCHMARKS, DEFAULT_OPTIONS
    from internvl_da.params import BENCHMARK_NAMES

    assert set(BENCHMARK_NAMES) == set(BENCHMARKS)
    assert params["eval"]["gmai"]["max_num"] == 6
    for bench in BENCHMARK_NAMES:
        assert params["eval"][bench] == vars(DEFAULT_OPTIONS[bench]), bench


def test_released_checkpoints_are_the_published_ones(params):
    """evaluation.md §9: OpenGVLab/Mini-InternVL2-{1B,2B,4B}-DA-{DriveLM,Medical,RS}."""
    suffix = {"drivelm": "DriveLM", "medical": "Medical", "remote": "RS"}
    for size, domains in params["released"].items():
        for domain, entry in domains.items():
            assert entry["hub_id"] == f"OpenGVLab/Mini-InternVL2-{size.upper()}-DA-" \
                                      f"{suffix[domain]}"


def test_source_is_not_a_training_setting(params):
    assert "source" not in train_settings(params, "1b", "remote")


def test_family_defaults_to_the_paper_and_maps_sizes(params):
    """Issue 13: family internvl2 keeps the bare size keys and paths; InternVL3.5's sizes are
    their registry keys (families.model_key) and their tree is internvl3.5-<size>."""
    from internvl_da.params import model_name, tree

    assert (params["family"], params["family_dir"]) == ("internvl2", "")
    assert [model_name(params, s) for s in ("tiny", "1b")] == ["tiny", "1b"]
    assert tree(params) == params["size"]
    p35 = {**params, "family": "internvl3.5", "family_dir": "internvl3.5-"}
    assert [model_name(p35, s) for s in ("tiny", "4b")] == ["tiny-qwen3", "internvl3.5-4b"]
    assert tree(p35, "1b") == "internvl3.5-1b"
    assert tree(params, "1b", "internvl3.5") == "internvl3.5-1b"  # CLI --family
    assert params["models"]["internvl3.5-2b"]["hub_id"] == "OpenGVLab/InternVL3_5-2B-HF"


def test_internvl35_recipe_profiles(params):
    """da35: the InternVL2 DA values with the 3.5 model; sft35_official: spec §6.2, under the
    user keys; InternVL2 settings are untouched by recipe_profile."""
    base = train_settings(params, "1b", "remote")
    da35 = train_settings({**params, "family": "internvl3.5"}, "internvl3.5-1b", "remote")
    assert {k: v for k, v in da35.items() if k != "size"} == \
        {k: v for k, v in base.items() if k != "size"}
    official = {**params, "recipe_profile": "sft35_official", "seed": 7}
    s = train_settings(official, "internvl3.5-1b", "remote")
    assert (s["learning_rate"], s["max_steps"], s["max_packed_tokens"], s["seed"]) == \
        (8e-5, 8000, 32768, 7)
    assert train_settings(official, "1b", "remote") == base | {"seed": 7}
    assert recipe("tiny-qwen3", "remote", official).learning_rate == 8e-5


@pytest.mark.parametrize(("edit", "message"), [
    ({"family": "internvl3"}, "family: 'internvl3' is not one of internvl2, internvl3.5"),
    ({"family_dir": "internvl3.5-"}, "family_dir: 'internvl3.5-' does not fit family internvl2"),
    ({"recipe_profile": "fast"}, "recipe_profile: 'fast' is not one of"),
])
def test_bad_family_settings_name_the_key(params, edit, message):
    with pytest.raises(ParamsError, match=message.replace("(", r"\(").replace(".", r"\.")):
        check_params({**copy.deepcopy(params), **edit})
