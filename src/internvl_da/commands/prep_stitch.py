"""`internvl-da prep stitch-drivelm`: stitch the six nuScenes cameras of every DriveLM frame."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-root", required=True,
                        help="root holding nuscenes/samples/CAM_*/... (DriveLM's '../nuscenes' "
                             "paths resolve here)")
    parser.add_argument("--ann-file", required=True, help="DriveLM v1.1 annotation JSON")
    parser.add_argument("--out", help="output directory (default DATA_ROOT/stitch)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    parser.add_argument("--force", action="store_true", help="re-stitch existing outputs")
    parser.add_argument("--font", help="label font file (default: DejaVuSans-Bold.ttf from "
                                       "/usr/share/fonts/truetype/dejavu, then "
                                       "/usr/share/fonts/dejavu)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.stitch import stitch_all

    print(stitch_all(args.data_root, args.ann_file, args.out, args.workers, args.force, args.font))
    return 0
