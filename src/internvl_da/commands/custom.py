"""`internvl-da custom STAGE`: one dvc.yaml stage of your own domains (params.yaml `custom`).

general-holdout: hold general items out of training (forgetting); prepare / validate / finetune /
eval --domain NAME: a declared domain; eval without --domain: the general held-out set.
"""

from __future__ import annotations

import argparse

STAGES = ("general-holdout", "prepare", "validate", "finetune", "eval")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=STAGES, help="the stage to run")
    parser.add_argument("--params", help="params file (default: ./params.yaml)")
    parser.add_argument("--domain", help="a domain of params.yaml custom.domains (eval without "
                        "it: the general held-out set)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=DIR",
                        help="finetune: the starting model (DIR); eval: a model to evaluate, "
                        "named as in the report (base, DOMAIN)")
    parser.add_argument("--results", help="eval: results folder (results/SIZE/custom)")
    parser.add_argument("--live-dir", help="finetune: dvclive folder for the training curves")


def run(args: argparse.Namespace) -> int:
    from internvl_da import pipeline, pipeline_custom
    from internvl_da.custom_domains import get_domain
    from internvl_da.params import load_params

    params = load_params(args.params)
    if args.name == "general-holdout":
        print(pipeline_custom.general_holdout(params))
        return 0
    if args.domain is None and args.name != "eval":
        raise SystemExit(f"{args.name} needs --domain")
    if args.domain is not None:
        get_domain(params, args.domain)
    if args.name == "prepare":
        print(pipeline_custom.prepare(params, args.domain))
        return 0
    if args.name == "validate":
        return pipeline.validate(params, args.domain)
    bad = [item for item in args.checkpoint if "=" not in item]
    if bad or not args.checkpoint:
        raise SystemExit("--checkpoint NAME=DIR is needed (e.g. base=models/tiny/base)")
    checkpoints = dict(item.split("=", 1) for item in args.checkpoint)
    if args.name == "finetune":
        print(pipeline_custom.finetune(params, args.domain, next(iter(checkpoints.values())),
                                       args.live_dir))
        return 0
    if not args.results:
        raise SystemExit("eval needs --results")
    pipeline_custom.evaluate(params, args.domain, args.results, checkpoints)
    return 0
