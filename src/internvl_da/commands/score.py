"""`internvl-da score`: score a predictions file (no model needed); prints metrics JSON."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench", help="rsvqa-lr, rsvqa-hr-test1, rsvqa-hr-test2, dior-rsvg, "
                        "mme-realworld or gmai")
    parser.add_argument("predictions", help="predictions.jsonl written by `internvl-da eval`")
    parser.add_argument("--details", metavar="FILE",
                        help="also write one JSON line per record: id, correct (and box, iou)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.eval.score import score_file

    print(json.dumps(score_file(args.bench, args.predictions, args.details), indent=1))
    return 0
