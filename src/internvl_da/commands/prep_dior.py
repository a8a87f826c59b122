"""`internvl-da prep dior-rsvg`: DIOR-RSVG VOC annotations -> InternVL train/test."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True,
                        help="DIOR-RSVG root with Annotations/, JPEGImages/ and <split>.txt")
    parser.add_argument("--split", choices=("train", "val", "test"), required=True,
                        help="train -> JSONL with 0-1000 boxes; val/test -> evaluation JSON")
    parser.add_argument("--out", required=True, help="output .jsonl (train) or .json")
    parser.add_argument("--split-format", choices=("auto", "stems", "objects"), default="auto",
                        help="what <split>.txt lists: image stems (the sample) or global "
                             "object indices (the RSVG-pytorch release); auto (default) "
                             "detects it from the files")
    parser.add_argument("--image-prefix", default="",
                        help="prefix of every image path, e.g. 'DIOR-RSVG/' for a root one "
                             "level up (InternVL's dior_rsvg_test.json)")
    parser.add_argument("--no-image-check", action="store_true",
                        help="do not check that images exist and match the XML <size>")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.remote import prepare_dior_rsvg

    n = prepare_dior_rsvg(args.root, args.split, args.out, split_format=args.split_format,
                          image_prefix=args.image_prefix, check_images=not args.no_image_check)
    print(f"wrote {n} records to {args.out}")
    return 0
