"""`internvl-da prep rsvqa`: RSVQA raw JSONs -> InternVL train JSONL or evaluation JSON."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw-dir", required=True,
                        help="directory with {LR,USGS}_split_<split>_*.json "
                             "(questions, answers, images)")
    parser.add_argument("--variant", choices=("lr", "hr"), required=True,
                        help="lr: LR_split_* files; hr: USGS_split_* files")
    parser.add_argument("--split", required=True,
                        help="train (-> JSONL), test or test_phili (-> evaluation JSON list)")
    parser.add_argument("--out", required=True, help="output file")
    parser.add_argument("--image-ext", default=".tif", help="image file extension (default .tif)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.remote import prepare_rsvqa

    n, skipped = prepare_rsvqa(args.raw_dir, args.variant, args.split, args.out, args.image_ext)
    extra = "".join(f", skipped {v} ({k})" for k, v in sorted(skipped.items()))
    print(f"wrote {n} records to {args.out}{extra}")
    return 0
