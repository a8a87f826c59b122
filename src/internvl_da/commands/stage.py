"""`internvl-da stage NAME`: one dvc.yaml stage that is more than a single command."""

from __future__ import annotations

import argparse

STAGES = ("fetch-data", "released-meta", "stitch-drivelm", "prepare-drivelm", "prepare-remote",
          "prepare-medical", "decode-gmai", "validate", "base-model", "released-model", "eval")
NEEDS_DOMAIN = ("released-meta", "validate", "released-model")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=STAGES, help="the stage to run")
    parser.add_argument("--params", help="params file (default: ./params.yaml)")
    parser.add_argument("--domain", help="released-meta, validate, released-model: the domain "
                        "(drivelm, medical, remote; validate: also a custom domain)")
    parser.add_argument("--out", help="base-model, released-model: the folder to write")
    parser.add_argument("--bench", action="append", default=[],
                        help="eval: a benchmark (repeat for several)")
    parser.add_argument("--results", help="eval: results folder (results/SIZE)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=DIR",
                        help="eval: a model to evaluate, named as in the report (base, DOMAIN, "
                             "released-DOMAIN)")
    parser.add_argument("--workers", type=int, default=2, help="stitch-drivelm: processes")


def _model(args: argparse.Namespace, params: dict) -> int:
    from internvl_da import pipeline

    if not args.out:
        raise SystemExit(f"{args.name} needs --out")
    if args.name == "base-model":
        pipeline.base_model(params, args.out)
    else:
        pipeline.released_model(params, args.domain, args.out)
    return 0


def run(args: argparse.Namespace) -> int:
    from internvl_da import fetch, pipeline
    from internvl_da.params import load_params

    params = load_params(args.params)
    if args.name in NEEDS_DOMAIN and not args.domain:
        raise SystemExit(f"{args.name} needs --domain")
    if args.name == "fetch-data":
        return 1 if fetch.fetch_data(params) else 0
    if args.name == "released-meta":
        pipeline.released_meta(params, args.domain)
    elif args.name == "validate":
        return pipeline.validate(params, args.domain)
    elif args.name == "stitch-drivelm":
        pipeline.stitch_drivelm(params, args.workers)
    elif args.name.startswith(("prepare-", "decode-")):
        getattr(pipeline, args.name.replace("-", "_"))(params)
    elif args.name in ("base-model", "released-model"):
        return _model(args, params)
    else:
        bad = [item for item in args.checkpoint if "=" not in item]
        if bad:
            raise SystemExit(f"--checkpoint {bad[0]!r}: expected NAME=DIR, e.g. base=DIR")
        checkpoints = dict(item.split("=", 1) for item in args.checkpoint)
        if not (args.bench and args.results and checkpoints):
            raise SystemExit("eval needs --bench, --results and --checkpoint NAME=DIR")
        for bench in args.bench:
            pipeline.evaluate(params, bench, args.results, checkpoints)
    return 0
