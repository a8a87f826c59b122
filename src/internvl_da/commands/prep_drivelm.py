"""`internvl-da prep drivelm`: DriveLM v1.1 QA -> InternVL JSONL on the stitched images."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ann-file", required=True, help="DriveLM v1.1 annotation JSON")
    parser.add_argument("--out", required=True, help="output .jsonl")
    parser.add_argument("--split", choices=("train", "val"), default="train",
                        help="val lines keep question_old and allow questions without answers")
    parser.add_argument("--image-ext", default=".jpg",
                        help="extension of the stitched images (default .jpg)")
    parser.add_argument("--object-hint", action="store_true",
                        help="prefix each question with the paper's tag-encoding sentence")
    parser.add_argument("--decimals", type=int, default=0,
                        help="decimals of the normalised tag coordinates (default 0: integers)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.drivelm import prepare_drivelm

    n = prepare_drivelm(args.ann_file, args.out, args.split, args.object_hint, args.image_ext,
                        args.decimals)
    print(f"wrote {n} lines to {args.out}")
    return 0
