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
    parser.add_argument("--size", default="tiny", help="model size (sets template and tiles)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the untrained tiny model")
    parser.add_argument("--data-root", default="data/sample", help="images (default %(default)s)")
    parser.add_argument("--prepared", default="data/prepared",
                        help="converted annotations (default %(default)s)")
    parser.add_argument("--out", help="output folder (default results/BENCH)")
    parser.add_argument("--max-num", type=int, default=12, help="max tiles per image")
    parser.add_argument("--no-dynamic", action="store_true", help="one tile per image")
    parser.add_argument("--limit", type=int, help="evaluate only the first K samples")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="questions per generate call, left-padded (default 8)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from internvl_da import repro
    from internvl_da.eval.generate import GenerationSettings
    from internvl_da.eval.runner import get_benchmark, run_benchmark
    from internvl_da.model.registry import get_size

    get_benchmark(args.bench)
    repro.configure(args.seed)
    rank, world_size = _distributed()
    spec = get_size(args.size)
    if args.checkpoint:
        from internvl_da.model.load import load_native

        model, tokenizer = load_native(args.checkpoint)
    elif spec.hub_id is None:  # the in-process tiny sizes
        from internvl_da.model.tiny import build_tiny_model

        model, tokenizer = build_tiny_model(spec.llm_family, seed=args.seed)
    else:
        raise SystemExit("--checkpoint is required for sizes other than tiny")
    model.eval()
    settings = GenerationSettings(spec.template, spec.image_size, spec.tokens_per_tile,
                                  args.max_num, not args.no_dynamic)
    metrics = run_benchmark(args.bench, model, tokenizer, settings, Path(args.prepared),
                            Path(args.data_root), Path(args.out or f"results/{args.bench}"),
                            args.limit, args.batch_size, rank, world_size)
    if rank == 0:
        print(json.dumps(metrics, indent=1))
    return 0


def _distributed() -> tuple[int, int]:
    """(rank, world size) under torchrun (gloo process group for the final barrier)."""
    import os

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), world_size
