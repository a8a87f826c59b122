"""`internvl-da stage NAME`: one dvc.yaml stage that is more than a single command."""

from __future__ import annotations

import argparse

STAGES = ("fetch-data", "stitch-drivelm", "prepare-drivelm", "prepare-remote", "prepare-medical",
          "base-model", "eval")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=STAGES, help="the stage to run")
    parser.add_argument("--params", help="params file (default: ./params.yaml)")
    parser.add_argument("--out", help="base-model: the folder to write")
    parser.add_argument("--bench", action="append", default=[],
                        help="eval: a benchmark (repeat for several)")
    parser.add_argument("--results", help="eval: results folder (results/SIZE)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=DIR",
                        help="eval: a model to evaluate, named as in the report (base, DOMAIN)")
    parser.add_argument("--workers", type=int, default=2, help="stitch-drivelm: processes")


def run(args: argparse.Namespace) -> int:
    from internvl_da import pipeline
    from internvl_da.params import load_params

    params = load_params(args.params)
    if args.name == "fetch-data":
        return 1 if pipeline.fetch_data(params) else 0
    if args.name == "stitch-drivelm":
        pipeline.stitch_drivelm(params, args.workers)
    elif args.name.startswith("prepare-"):
        getattr(pipeline, args.name.replace("-", "_"))(params)
    elif args.name == "base-model":
        if not args.out:
            raise SystemExit("base-model needs --out")
        pipeline.base_model(params, args.out)
    else:
        checkpoints = dict(item.split("=", 1) for item in args.checkpoint)
        if not (args.bench and args.results and checkpoints):
            raise SystemExit("eval needs --bench, --results and --checkpoint NAME=DIR")
        for bench in args.bench:
            pipeline.evaluate(params, bench, args.results, checkpoints)
    return 0
