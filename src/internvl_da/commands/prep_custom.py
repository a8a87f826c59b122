"""`internvl-da prep custom`: your own domain's table + images -> InternVL train/test JSONL."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", required=True, help="CSV (header row) or JSONL table; columns "
                        "per task in docs/data-formats.md ('Your own domain')")
    parser.add_argument("--images", required=True, help="folder the table's `image` paths are in")
    parser.add_argument("--task", required=True, choices=("vqa", "caption", "mcq", "grounding"))
    parser.add_argument("--out", required=True, help="folder for train.jsonl, test.jsonl, "
                        "meta.json")
    parser.add_argument("--name", default="custom", help="dataset name in meta.json and the "
                        "line ids (default custom)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of the images "
                        "on the test side when the table has no `split` column (default 0.2)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split (default 42)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.custom import prepare_custom

    print(prepare_custom(args.table, args.images, args.task, args.out, name=args.name,
                         test_fraction=args.test_fraction, seed=args.seed))
    return 0
