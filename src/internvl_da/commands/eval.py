"""`internvl-da eval`: run a benchmark on a checkpoint, write predictions and metrics."""

from __future__ import annotations

import argparse
import json

NAMES = ("rsvqa-lr", "rsvqa-hr-test1", "rsvqa-hr-test2", "dior-rsvg", "mme-realworld", "gmai",
         "drivelm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench", help=f"benchmark: {', '.join(NAMES)}")
    parser.add_argument("--checkpoint", help="native InternVL checkpoint folder; without it, "
                        "--size tiny evaluates the untrained tiny model (the baseline)")
    parser.add_argument("--params", help="params file: size, seed, `eval` settings and data "
                        "roots come from it unless given here (default: ./params.yaml)")
    parser.add_argument("--size", help="model size (sets template and tiles)")
    parser.add_argument("--seed", type=int, help="seed of the untrained tiny model")
    parser.add_argument("--data-root", help="raw releases and images (default: data_roots)")
    parser.add_argument("--prepared", help="converted annotations (default: data_roots)")
    parser.add_argument("--out", help="output folder (default results/BENCH)")
    parser.add_argument("--max-num", type=int, help="max tiles per image")
    parser.add_argument("--no-dynamic", action="store_true", help="one tile per image")
    parser.add_argument("--limit", type=int, help="evaluate only the first K samples")
    parser.add_argument("--batch-size", type=int,
                        help="questions per generate call, left-padded")


def _pick(given, default):
    return default if given is None else given


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from internvl_da import repro
    from internvl_da.eval.generate import GenerationSettings
    from internvl_da.eval.runner import distributed_rank, get_benchmark, run_benchmark
    from internvl_da.model.registry import get_size
    from internvl_da.params import data_roots, load_params

    get_benchmark(args.bench)
    params = load_params(args.params)
    seed = _pick(args.seed, params["seed"])
    repro.configure(seed)
    rank, world_size = distributed_rank()
    spec = get_size(args.size or params["size"])
    if args.checkpoint:
        from internvl_da.model.load import load_native

        model, tokenizer = load_native(args.checkpoint)
    elif spec.hub_id is None:  # the in-process tiny sizes
        from internvl_da.model.tiny import build_tiny_model

        model, tokenizer = build_tiny_model(spec.llm_family, seed=seed)
    else:
        raise SystemExit("--checkpoint is required for sizes other than tiny")
    from internvl_da.model.load import inference_device

    model.to(inference_device()).eval()
    options = params["eval"]
    raw, prepared = data_roots(params)
    settings = GenerationSettings(spec.template, spec.image_size, spec.tokens_per_tile,
                                  _pick(args.max_num, options["max_num"]),
                                  options["dynamic"] and not args.no_dynamic)
    metrics = run_benchmark(args.bench, model, tokenizer, settings,
                            Path(args.prepared or prepared), Path(args.data_root or raw),
                            Path(args.out or f"results/{args.bench}"),
                            _pick(args.limit, options["limit"]),
                            _pick(args.batch_size, options["batch_size"]), rank, world_size)
    if rank == 0:
        print(json.dumps(metrics, indent=1))
    return 0

