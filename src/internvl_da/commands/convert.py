"""`internvl-da convert`: original InternVL2 checkpoint <-> native transformers layout."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="source checkpoint folder")
    parser.add_argument("dst", help="output folder")
    parser.add_argument("--to-internvl", action="store_true",
                        help="native -> original layout (for VLMEvalKit and the reference code)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.model.convert import convert_to_internvl, convert_to_native

    convert = convert_to_internvl if args.to_internvl else convert_to_native
    print(convert(args.src, args.dst))
    return 0
