"""The dvc.yaml stages that are more than one command: metas, validation, models, evaluation.

Each function reads the checked params (internvl_da.params) and calls the library; dvc.yaml lists
the deps, params and outs of each. Paths carry `data` (sample | full), `source` (released | raw)
and `size` (with the `family_dir` prefix: `${family_dir}${size}` = params.tree), so choices do
not overwrite each other; the model of each path is params.model_name (family x size):

    data/<data>                                  sample: `prep sample`; full: `stage fetch-data`
      InternVL-Domain-Adaptation-Data/{train_meta,train_data,val,images}   (released layout)
      playground/{opensource,data}               InternVL-1.2 general SFT (the metas name it)
    data/prepared/<data>/released/meta/<domain>.json   the released meta, paths resolved
    data/prepared/<data>/raw/...                 source: raw — the project's conversions
    data/prepared/<data>/gmai/images             GMAI-MMBench's base64 images, decoded once
    data/prepared/<data>/validate/<tree>/<domain>.rejects.jsonl   `data check` of the meta
    models/<tree>/{base,released-<domain>}       native layout; revisions/<tree>/*.json
    runs/<tree>/<domain>/final                   the model after adaptation on <domain>
    results/<tree>/<model>/<bench>               <model> = base | <domain> | released-<domain>
<tree> = <size> for the paper's InternVL2 (family_dir ""), internvl3.5-<size> for InternVL3.5
with family_dir "internvl3.5-". DVC templating has no nested `${}` (so `family` cannot pick
the prefix itself, dvc#5167/#9196); the prefix is its own params key, checked against family.
Your own domains (params `custom`): pipeline_custom.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from internvl_da.params import data_roots, meta_path, model_name, recipe_size, train_settings, tree
from internvl_da.prep.released import DA_DIR, Replacement, prepare_released_meta

REVISIONS = Path("revisions")
NO_RELEASED_35 = "no released DA checkpoint for InternVL3.5"
NOT_APPLICABLE = "NOT_APPLICABLE.json"  # in a model folder / results folder that cannot exist


def not_applicable(folder: str | Path, reason: str) -> None:
    """A stage output that has no meaning for this choice (InternVL3.5's baseline stages): the
    folder holds only NOT_APPLICABLE.json with the reason, which eval and report pass on."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NOT_APPLICABLE).write_text(json.dumps({"not_applicable": reason}) + "\n",
                                         encoding="utf-8")


def applicable(folder: str | Path) -> str | None:
    """The reason a folder is NOT_APPLICABLE, else None."""
    marker = Path(folder) / NOT_APPLICABLE
    if not marker.is_file():
        return None
    return json.loads(marker.read_text(encoding="utf-8"))["not_applicable"]


def _da_dir(params: dict) -> str:
    return params["datasets"]["domain_adaptation"]["local_dir"] if "domain_adaptation" in \
        params["datasets"] else DA_DIR


def released_meta(params: dict, domain: str) -> None:
    """data/prepared/<data>/released/meta/<domain>.json: the released train_meta as it is
    (general entries and repeat_time included), paths resolved under data/<data>."""
    raw, prepared = data_roots(params)
    print(prepare_released_meta(domain, raw, prepared / f"released/meta/{domain}.json",
                                dataset_dir=_da_dir(params)))


def _check_raw(raw: Path, needed: list[str]) -> None:
    missing = [p for p in needed if not (raw / p).exists()]
    if missing:
        raise FileNotFoundError(
            f"{raw}: missing {', '.join(missing)}. With data=sample run `dvc repro sample_data`; "
            "with data=full see the README's 'Real data' section for the sources and layout")


def _raw_meta(params: dict, domain: str, swaps: tuple[Replacement, ...]) -> None:
    """source: raw — the released meta with the project's conversions swapped in."""
    raw, prepared = data_roots(params)
    print(prepare_released_meta(domain, raw, prepared / f"raw/meta/{domain}.json",
                                dataset_dir=_da_dir(params), replacements=swaps))


def stitch_drivelm(params: dict, workers: int = 2) -> None:
    from internvl_da.prep.stitch import stitch_all

    raw, prepared = data_roots(params)
    _check_raw(raw, ["drivelm/v1_1_train_nus.json", "drivelm/v1_1_val_nus.json"])
    for split in ("train", "val"):
        print(stitch_all(raw, raw / f"drivelm/v1_1_{split}_nus.json",
                         prepared / "raw/drivelm/stitch", workers, force=False))


def prepare_drivelm(params: dict) -> None:
    from internvl_da.prep.drivelm import prepare_drivelm as convert

    raw, prepared = data_roots(params)
    out = prepared / "raw/drivelm"
    for split in ("train", "val"):
        convert(raw / f"drivelm/v1_1_{split}_nus.json", out / f"drivelm_{split}.jsonl", split)
    _raw_meta(params, "drivelm", (Replacement("drivelm_train.jsonl",
                                              str(out / "drivelm_train.jsonl"),
                                              str(out / "stitch")),))


def prepare_remote(params: dict) -> None:
    """RSVQA and DIOR-RSVG converted from the raw releases; DIOR's split-file format (image
    stems or object indices) is detected from the files."""
    from internvl_da.prep.remote import prepare_dior_rsvg, prepare_rsvqa

    raw, prepared = data_roots(params)
    _check_raw(raw, ["rsvqa/LR", "rsvqa/HR", "dior_rsvg"])
    out = prepared / "raw/remote"
    rsvqa = [("LR", "lr", "test", "rsvqa_lr_test.json"),
             ("HR", "hr", "train", "rsvqa_hr_train.jsonl"),
             ("HR", "hr", "test", "rsvqa_hr_test1.json"),
             ("HR", "hr", "test_phili", "rsvqa_hr_test2.json")]
    for folder, variant, split, name in rsvqa:
        prepare_rsvqa(raw / "rsvqa" / folder, variant, split, out / name)
    for split, name in (("train", "dior_rsvg_train.jsonl"), ("test", "dior_rsvg_test.json")):
        prepare_dior_rsvg(raw / "dior_rsvg", split, out / name, split_format="auto")
    _raw_meta(params, "remote", (
        Replacement("rsvqa_hr_train_instruct_100k.jsonl", str(out / "rsvqa_hr_train.jsonl"),
                    str(raw / "rsvqa/HR/Data")),
        Replacement("dior_rsvg_instruct_26k.jsonl", str(out / "dior_rsvg_train.jsonl"),
                    str(raw / "dior_rsvg"))))


def prepare_medical(params: dict) -> None:
    """source: raw — medical has no raw conversion: the released meta, resolved."""
    _raw_meta(params, "medical", ())


def decode_gmai(params: dict) -> None:
    """GMAI-MMBench's base64 images decoded once (evaluation reads them from here and writes
    nothing into a stage output)."""
    from internvl_da.eval import gmai
    from internvl_da.eval.benchmarks import released_inputs

    raw, prepared = data_roots(params)
    annotation, images = released_inputs("gmai", raw, _local_dirs(params),
                                         prepared / "gmai/images")
    _check_raw(Path("."), [str(annotation)])
    print(f"gmai: {len(gmai.load(annotation, images))} images in {images}")


def validate(params: dict, domain: str) -> int:
    """`data check` of the meta a fine-tune of `domain` reads (training.md §8.4): every line,
    image and tokenized length (the base model's tokenizer, the size's max_seq_length and
    tiles); problems go to the rejects file, the return code is data check's (1 = problems)."""
    from internvl_da.data.validate import check_path, print_reports
    from internvl_da.model.registry import get_size

    size = model_name(params)
    settings = train_settings(params, size, domain)
    spec = get_size(size)
    rejects = validate_path(params, domain)
    rejects.parent.mkdir(parents=True, exist_ok=True)
    reports = check_path(meta_path(params, domain), tokenizer_dir=f"models/{tree(params)}/base",
                         rejects=rejects, template=spec.template,
                         max_seq_length=settings["max_seq_length"],
                         max_num=settings["max_dynamic_patch"],
                         tokens_per_tile=spec.tokens_per_tile, image_size=spec.image_size)
    return print_reports(reports)


def validate_path(params: dict, domain: str) -> Path:
    return data_roots(params)[1] / f"validate/{tree(params)}/{domain}.rejects.jsonl"


def _tiny_record(record: Path, what: str, seed: int) -> None:
    """Size tiny downloads nothing; its record says so (dvc.yaml declares the file)."""
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"hub_id": None, "revision": None, "seed": seed,
                                  "note": f"{what}: built in-process, no hub download"},
                                 indent=2) + "\n", encoding="utf-8")


def base_model(params: dict, out: str | Path) -> None:
    """models/<tree>/base: the tiny random model, or the hub checkpoint converted to native;
    the hub revision is recorded in revisions/<tree>/base.json. InternVL3.5 (spec
    internvl35.md §2): the -HF folder downloaded as it is (fetch_native, no convert); tiny:
    the tiny Qwen3 base saved natively (released.write_tiny_native_base)."""
    size = model_name(params)
    record = REVISIONS / tree(params) / "base.json"
    if size == "tiny-qwen3":
        from internvl_da.released import write_tiny_native_base

        write_tiny_native_base(params["seed"], out)
        _tiny_record(record, "the tiny InternVL3.5 base model", params["seed"])
        return
    if size.startswith("internvl3.5-"):
        from internvl_da.model.hub import fetch_native

        fetch_native(params["models"][size], Path(out), record=record)
        return
    if recipe_size(size) == "tiny":
        from internvl_da.model.registry import get_size
        from internvl_da.model.tiny import build_tiny_model

        model, tokenizer = build_tiny_model(get_size(size).llm_family, seed=params["seed"])
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        _tiny_record(record, "the tiny base model", params["seed"])
        return
    from internvl_da.model.hub import fetch_and_convert

    fetch_and_convert(params["models"][size], Path(out), record=record)


def released_model(params: dict, domain: str, out: str | Path) -> None:
    """models/<size>/released-<domain>: the released DA checkpoint (evaluation.md §9) fetched
    and converted; size tiny: a random original-layout stand-in through the same `convert`."""
    from internvl_da.released import model_name as released_name

    size = model_name(params)
    record = REVISIONS / tree(params) / f"{released_name(domain)}.json"
    if size == "tiny-qwen3" or size.startswith("internvl3.5-"):
        not_applicable(out, NO_RELEASED_35)
        record.parent.mkdir(parents=True, exist_ok=True)  # the record dvc.yaml declares
        record.write_text(json.dumps({"hub_id": None, "revision": None,
                                      "note": NO_RELEASED_35}, indent=2) + "\n",
                          encoding="utf-8")
        return
    if recipe_size(size) == "tiny":
        from internvl_da.model.registry import get_size
        from internvl_da.prep.meta import DOMAINS
        from internvl_da.released import tiny_released

        seed = params["seed"] + 1 + DOMAINS.index(domain)  # unlike the base model's weights
        tiny_released(get_size(size).llm_family, seed, out)
        _tiny_record(record, f"the tiny stand-in of {released_name(domain)}", seed)
        return
    from internvl_da.model.hub import fetch_and_convert

    fetch_and_convert(params["released"][size][domain], Path(out), record=record)


def _local_dirs(params: dict) -> dict[str, str]:
    return {name: entry["local_dir"] for name, entry in params["datasets"].items()}


def eval_inputs(params: dict, bench: str) -> tuple[Path, Path]:
    """(annotation, image root) of `bench`: the released files (source: released; always for
    MME-RealWorld and GMAI, whose releases are read as they are), else the conversions."""
    from internvl_da.eval.benchmarks import get_benchmark, released_inputs

    raw, prepared = data_roots(params)
    spec = get_benchmark(bench)
    if params["source"] == "released" or spec.raw_annotation:
        return released_inputs(bench, raw, _local_dirs(params), prepared / "gmai/images")
    converted = prepared / "raw"
    return (converted / spec.annotation,
            (converted if spec.images_in_prepared else raw) / spec.image_root)


def evaluate(params: dict, bench: str, results: str | Path, checkpoints: dict[str, str]) -> None:
    """`bench` on each named checkpoint, with its `eval.<bench>` settings:
    results/<name>/<bench>/{predictions,metrics}."""
    annotation, images = eval_inputs(params, bench)
    for name, checkpoint in checkpoints.items():
        reason = applicable(checkpoint)
        if reason:  # InternVL3.5's released-<domain>: the report shows the reason
            not_applicable(Path(results) / name / bench, reason)
            continue
        evaluate_on(params, bench, annotation, images, Path(results) / name / bench, name,
                    checkpoint)


def evaluate_on(params: dict, bench: str, annotation: Path, images: Path, out: Path, name: str,
                checkpoint: str) -> None:
    """`bench` on one checkpoint, given its files (the paper's or a custom domain's): `out`
    gets predictions.jsonl and metrics.json; eval.<bench> settings, ranks under `launcher`."""
    from internvl_da import repro
    from internvl_da.eval.generate import GenerationSettings
    from internvl_da.eval.runner import distributed_rank, evaluate_files
    from internvl_da.model.load import inference_device, load_native
    from internvl_da.model.registry import get_size

    repro.configure(params["seed"])
    rank, world_size = distributed_rank()  # under `launcher` (torchrun), one shard per rank
    spec = get_size(model_name(params))
    options = params["eval"]
    # max_num / dynamic / max_new_tokens: replaced by eval.<bench> in evaluate_files
    settings = GenerationSettings(spec.template, spec.image_size, spec.tokens_per_tile)
    model, tokenizer = load_native(checkpoint)
    model.to(inference_device()).eval()
    metrics = evaluate_files(bench, model, tokenizer, settings, annotation, images, out,
                             options=options[bench], limit=options["limit"],
                             batch_size=options["batch_size"], rank=rank,
                             world_size=world_size, checkpoint=checkpoint)
    if rank == 0:
        print(f"{bench} [{name}]: {json.dumps(metrics)}")
