"""`internvl-da prep dior-rsvg`: DIOR-RSVG VOC annotations -> InternVL train/test."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True,
                        help="DIOR-RSVG root with Annotations/, JPEGImages/ and <split>.txt")
    parser.add_argument("--split", choices=("train", "val", "test"), required=True,
                        help="train -> JSONL with 0-1000 boxes; val/test -> evaluation JSON")
    parser.add_argument("--out", required=True, help="output file")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.remote import prepare_dior_rsvg

    n = prepare_dior_rsvg(args.root, args.split, args.out)
    print(f"wrote {n} records to {args.out}")
    return 0
