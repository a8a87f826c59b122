"""`internvl-da prep rsvqa`: RSVQA raw JSONs -> InternVL train JSONL or evaluation JSON."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raw-dir", required=True,
                        help="directory with {LR,USGS}_split_<split>_{questions,answers,images}"
                             ".json")
    parser.add_argument("--variant", choices=("lr", "hr"), required=True,
                        help="lr: LR_split_* files, images in Images_LR/; "
                             "hr: USGS_split_* files, images in Data/")
    parser.add_argument("--split", choices=("train", "test", "test_phili"), required=True,
                        help="train -> InternVL JSONL; test (LR test, HR test1) or test_phili "
                             "(HR test2) -> evaluation JSON list")
    parser.add_argument("--out", required=True, help="output .jsonl (train) or .json (test)")
    parser.add_argument("--image-dir",
                        help="image folder to check (default RAW_DIR/Images_LR or RAW_DIR/Data); "
                             "records name images relative to it")
    parser.add_argument("--image-ext", default=".tif", help="image file extension (default .tif)")
    parser.add_argument("--no-image-check", action="store_true",
                        help="do not check that every referenced image exists")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.remote import prepare_rsvqa

    n, skipped = prepare_rsvqa(args.raw_dir, args.variant, args.split, args.out,
                               image_dir=args.image_dir, image_ext=args.image_ext,
                               check_images=not args.no_image_check)
    extra = "".join(f", {k}: {v}" for k, v in sorted(skipped.items()))
    print(f"wrote {n} records to {args.out}{extra}")
    return 0
