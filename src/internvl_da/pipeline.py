"""The dvc.yaml stages that are more than one command: data preparation, base model, evaluation.

Each function reads the checked params (internvl_da.params) and calls the library; dvc.yaml lists
the deps, params and outs of each. Paths carry `data` (sample | full) and `size`, so choices do
not overwrite each other:

    data/<data>                                raw releases (sample: `prep sample`)
    data/prepared/<data>/{drivelm,remote,gmai,meta}
    models/<size>/base                         the model before adaptation (native layout)
    runs/<size>/<domain>/final                 the model after adaptation on <domain>
    results/<size>/<model>/<bench>             predictions + metrics; <model> = base | <domain>
"""

from __future__ import annotations

from pathlib import Path

from internvl_da.params import data_roots, recipe_size

# Which adapted model each benchmark evaluates (the paper's tables).
BENCH_DOMAIN = {"drivelm": "drivelm", "mme-realworld": "drivelm", "gmai": "medical",
                "rsvqa-lr": "remote", "rsvqa-hr-test1": "remote", "rsvqa-hr-test2": "remote",
                "dior-rsvg": "remote"}


# The sample's general SFT file is small: keep half of it (the reference's own repeat_time for
# general data, tuned for millions of lines, would keep a handful). Full data: the reference's.
SAMPLE_GENERAL_REPEAT = 0.5


def _general_repeat(params: dict) -> float | None:
    return SAMPLE_GENERAL_REPEAT if params["data"] == "sample" else None


def _write_meta(params: dict, domain: str) -> None:
    """prepared/meta/<domain>.json: the general mix + the domain's entries, in the layout
    `prep meta --sample-dir` knows (data/<data> mirrors the sample's layout)."""
    from internvl_da.prep.meta import prepare_meta

    raw, prepared = data_roots(params)
    print(prepare_meta(domain, prepared / f"meta/{domain}.json", sample_dir=raw,
                       prepared_dir=prepared, general_repeat=_general_repeat(params)))


def _check_raw(raw: Path, needed: list[str]) -> None:
    missing = [p for p in needed if not (raw / p).exists()]
    if missing:
        raise FileNotFoundError(
            f"{raw}: missing {', '.join(missing)}. With data=sample run `dvc repro sample_data`; "
            "with data=full see the README's 'Real data' section for the sources and layout")


def stitch_drivelm(params: dict, workers: int = 2) -> None:
    from internvl_da.prep.stitch import stitch_all

    raw, prepared = data_roots(params)
    _check_raw(raw, ["drivelm/v1_1_train_nus.json", "drivelm/v1_1_val_nus.json"])
    for split in ("train", "val"):
        print(stitch_all(raw, raw / f"drivelm/v1_1_{split}_nus.json",
                         prepared / "drivelm/stitch", workers, force=False))


def prepare_drivelm(params: dict) -> None:
    from internvl_da.prep.drivelm import prepare_drivelm as convert

    raw, prepared = data_roots(params)
    out = prepared / "drivelm"
    for split in ("train", "val"):
        convert(raw / f"drivelm/v1_1_{split}_nus.json", out / f"drivelm_{split}.jsonl", split)
    _write_meta(params, "drivelm")


def prepare_remote(params: dict) -> None:
    from internvl_da.prep.remote import prepare_dior_rsvg, prepare_rsvqa

    raw, prepared = data_roots(params)
    _check_raw(raw, ["rsvqa/LR", "rsvqa/HR", "dior_rsvg", "geochat/geochat_instruct.jsonl"])
    out = prepared / "remote"
    rsvqa = [("LR", "lr", "train", "rsvqa_lr_train.jsonl"),
             ("LR", "lr", "test", "rsvqa_lr_test.json"),
             ("HR", "hr", "train", "rsvqa_hr_train.jsonl"),
             ("HR", "hr", "test", "rsvqa_hr_test1.json"),
             ("HR", "hr", "test_phili", "rsvqa_hr_test2.json")]
    for folder, variant, split, name in rsvqa:
        prepare_rsvqa(raw / "rsvqa" / folder, variant, split, out / name)
    for split, name in (("train", "dior_rsvg_train.jsonl"), ("test", "dior_rsvg_test.json")):
        prepare_dior_rsvg(raw / "dior_rsvg", split, out / name)
    _write_meta(params, "remote")


def prepare_medical(params: dict) -> None:
    """The medical meta file, and GMAI-MMBench's base64 images decoded once (evaluation reads
    them from here and writes nothing into a stage output)."""
    from internvl_da.eval import gmai
    from internvl_da.eval.runner import get_benchmark

    raw, prepared = data_roots(params)
    _check_raw(raw, ["medical/medical_sft.jsonl", "gmai"])
    bench = get_benchmark("gmai")
    items = gmai.load(raw / bench.annotation, prepared / bench.image_root)
    print(f"gmai: {len(items)} images in {prepared / bench.image_root}")
    _write_meta(params, "medical")


def base_model(params: dict, out: str | Path) -> None:
    """models/<size>/base: the tiny random model, or the hub checkpoint converted to native."""
    size = params["size"]
    if recipe_size(size) == "tiny":
        from internvl_da.model.registry import get_size
        from internvl_da.model.tiny import build_tiny_model

        model, tokenizer = build_tiny_model(get_size(size).llm_family, seed=params["seed"])
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        return
    from internvl_da.model.hub import fetch_and_convert

    fetch_and_convert(params["models"][size], Path(out))


def evaluate(params: dict, bench: str, results: str | Path, checkpoints: dict[str, str]) -> None:
    """`bench` on each named checkpoint: results/<name>/<bench>/{predictions,metrics}."""
    import json

    from internvl_da import repro
    from internvl_da.eval.generate import GenerationSettings
    from internvl_da.eval.runner import distributed_rank, run_benchmark
    from internvl_da.model.load import inference_device, load_native
    from internvl_da.model.registry import get_size

    repro.configure(params["seed"])
    rank, world_size = distributed_rank()  # under `launcher` (torchrun), one shard per rank
    spec = get_size(params["size"])
    options = params["eval"]
    raw, prepared = data_roots(params)
    settings = GenerationSettings(spec.template, spec.image_size, spec.tokens_per_tile,
                                  options["max_num"], options["dynamic"])
    for name, checkpoint in checkpoints.items():
        model, tokenizer = load_native(checkpoint)
        model.to(inference_device()).eval()
        metrics = run_benchmark(bench, model, tokenizer, settings, prepared, raw,
                                Path(results) / name / bench, options["limit"],
                                options["batch_size"], rank, world_size)
        if rank == 0:
            print(f"{bench} [{name}]: {json.dumps(metrics)}")
