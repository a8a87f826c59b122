"""`internvl-da prep sample`: generate the embedded sample data."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data/sample",
                        help="output directory (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--scale", type=int, default=3,
                        help="size multiplier of every part (default 3)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.sample import generate_sample

    print(generate_sample(args.out, seed=args.seed, force=args.force, scale=args.scale))
    return 0
