"""`internvl-da eval`: run a benchmark on a checkpoint, write predictions and metrics.

Inputs: `--annotation FILE --images DIR`; else the files the pipeline evaluates
(`pipeline.eval_inputs`): params `source: released`, the paper's files (InternVL-Domain-
Adaptation-Data `val/`, MME-RealWorld, GMAI's TSV), or `source: raw`, the project's conversions.
Settings: the benchmark's reference defaults < params.yaml `eval.<bench>` < `--max-num/
--no-dynamic/--max-new-tokens`. Output: `--out`, else the pipeline's folder
results/<size>/<model>/<bench> (`default_out`). A folder holding another run's predictions is
refused unless `--force` (eval.resume).
"""

from __future__ import annotations

import argparse
import json
from pathlib import PurePath

NAMES = ("rsvqa-lr", "rsvqa-hr-test1", "rsvqa-hr-test2", "dior-rsvg", "mme-realworld", "gmai",
         "drivelm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench", help=f"benchmark: {', '.join(NAMES)}")
    parser.add_argument("--checkpoint", help="native InternVL checkpoint folder; without it, "
                        "--size tiny evaluates the untrained tiny model (the baseline)")
    parser.add_argument("--params", help="params file: size, seed, source, `eval` settings and "
                        "data roots come from it unless given here (default: ./params.yaml)")
    parser.add_argument("--family", choices=("internvl2", "internvl3.5"),
                        help="model family of --size (default: `family` of the params file)")
    parser.add_argument("--size", help="model size (sets template and tiles)")
    parser.add_argument("--seed", type=int, help="seed of the untrained tiny model")
    parser.add_argument("--source", choices=("released", "raw"),
                        help="released: the paper's val files as released; raw: the project's "
                        "conversions of the raw releases (default: params `source`)")
    parser.add_argument("--annotation", metavar="FILE",
                        help="evaluate this file (released format) instead; needs --images")
    parser.add_argument("--images", metavar="DIR", help="folder the records' images are "
                        "relative to (gmai: where the TSV's images are decoded)")
    parser.add_argument("--out", help="output folder (default: the pipeline's "
                        "results/SIZE/MODEL/BENCH; MODEL from --checkpoint, base without)")
    parser.add_argument("--force", action="store_true", help="discard predictions already in "
                        "the output folder (by default a run resumes only its own)")
    parser.add_argument("--max-num", type=positive_int, help="max tiles per image (default: "
                        "eval.<bench>.max_num, else the reference's: gmai 6, others 12)")
    parser.add_argument("--no-dynamic", action="store_true", help="one tile per image")
    parser.add_argument("--max-new-tokens", type=positive_int, help="default: eval.<bench>, "
                        "else the reference's for the benchmark")
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first K samples")
    parser.add_argument("--batch-size", type=positive_int,
                        help="questions per generate call, left-padded")


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (`--limit -1` dropped the last sample, `--batch-size
    0` crashed after creating an empty predictions.jsonl: issue 11 item 5)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def model_name(checkpoint: str | None) -> str:
    """The pipeline's <model> of a checkpoint folder (pipeline.py's layout):
    models/<size>/<name> -> name (base, released-<domain>); runs/<size>/<domain>/final ->
    domain; runs/<size>/<domain>/checkpoint-N -> <domain>-checkpoint-N; no checkpoint (the
    untrained tiny model, the pipeline's tiny base) -> base; any other folder -> its name."""
    if checkpoint is None:
        return "base"
    parts = PurePath(checkpoint.rstrip("/")).parts
    if len(parts) >= 4 and parts[-4] == "runs":
        return parts[-2] if parts[-1] == "final" else f"{parts[-2]}-{parts[-1]}"
    return parts[-1]


def default_out(size: str, checkpoint: str | None, bench: str) -> str:
    """results/<size>/<model>/<bench>: where `dvc repro` writes the same evaluation."""
    return f"results/{size}/{model_name(checkpoint)}/{bench}"


def _pick(given, default):
    return default if given is None else given


def bench_options(args: argparse.Namespace, params: dict, bench: str) -> dict:
    """params.yaml `eval.<bench>` with the command-line overrides on top."""
    options = dict(params["eval"].get(bench) or {})
    if args.max_num is not None:
        options["max_num"] = args.max_num
    if args.no_dynamic:
        options["dynamic"] = False
    if args.max_new_tokens is not None:
        options["max_new_tokens"] = args.max_new_tokens
    return options


def _load_model(args: argparse.Namespace, spec, seed: int):
    if args.checkpoint:
        from internvl_da.model.load import load_native

        return load_native(args.checkpoint)
    if spec.hub_id is None:  # the in-process tiny sizes
        from internvl_da.model.tiny import build_tiny_model

        return build_tiny_model(spec.llm_family, seed=seed)
    raise SystemExit("--checkpoint is required for sizes other than tiny")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from internvl_da import repro
    from internvl_da.eval.generate import GenerationSettings
    from internvl_da.eval.runner import canonical, distributed_rank, evaluate_files
    from internvl_da.model.registry import get_size
    from internvl_da.params import load_params, tree
    from internvl_da.params import model_name as registry_key
    from internvl_da.pipeline import eval_inputs

    bench = canonical(args.bench)
    if (args.annotation is None) != (args.images is None):
        raise SystemExit("--annotation and --images go together")
    params = load_params(args.params)
    seed = _pick(args.seed, params["seed"])
    repro.configure(seed)
    rank, world_size = distributed_rank()
    size = registry_key(params, args.size, args.family)
    spec = get_size(size)
    model, tokenizer = _load_model(args, spec, seed)
    from internvl_da.model.load import inference_device

    model.to(inference_device()).eval()
    options = params["eval"]
    settings = GenerationSettings(spec.template, spec.image_size, spec.tokens_per_tile)
    if args.annotation is not None:
        annotation, images = Path(args.annotation), Path(args.images)
    else:
        annotation, images = eval_inputs({**params, "source": args.source or params["source"]},
                                         bench)
    metrics = evaluate_files(bench, model, tokenizer, settings, annotation, images,
                             Path(args.out or default_out(tree(params, args.size, args.family),
                                                           args.checkpoint, bench)),
                             options=bench_options(args, params, bench),
                             limit=_pick(args.limit, options["limit"]),
                             batch_size=_pick(args.batch_size, options["batch_size"]),
                             rank=rank, world_size=world_size, checkpoint=args.checkpoint,
                             force=args.force)
    if rank == 0:
        print(json.dumps(metrics, indent=1))
    return 0
