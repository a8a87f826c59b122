"""`internvl-da report`: results.md (paper / released checkpoint / ours) and flat metrics."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, metavar="DIR",
                        help="folder holding <model>/<bench>/metrics.json (model: base, "
                        "drivelm, medical, remote: ours; released-drivelm, released-medical, "
                        "released-remote: the released DA checkpoints), e.g. results/1b")
    parser.add_argument("--out", metavar="FILE", help="markdown file (default DIR/results.md)")
    parser.add_argument("--size", help="model size of the results (1b, 2b, 4b: paper rows of "
                        "that size; tiny: paper rows shown as reference only)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.eval.report import write_report
    from internvl_da.model.registry import get_size

    if args.size is not None:
        get_size(args.size)  # unknown size: ValueError, one line from the CLI (exit 1)
    text = write_report(args.results, args.out, args.size)  # no results / bad metrics: exit 1
    print(text, end="")
    return 0
