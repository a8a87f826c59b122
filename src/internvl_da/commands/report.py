"""`internvl-da report`: results.md (paper / released checkpoint / ours) and flat metrics."""

from __future__ import annotations

import argparse

from internvl_da.model.families import FAMILIES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, metavar="DIR",
                        help="folder holding <model>/<bench>/metrics.json (model: base, "
                        "drivelm, medical, remote: ours; released-drivelm, released-medical, "
                        "released-remote: the released DA checkpoints), e.g. results/1b")
    parser.add_argument("--out", metavar="FILE", help="markdown file (default DIR/results.md)")
    parser.add_argument("--size", help="model size of the results (1b, 2b, 4b: paper rows of "
                        "that size; tiny: paper rows shown as reference only)")
    parser.add_argument("--family", choices=FAMILIES,
                        help="model family of the results (default: from the folder name, "
                        "results/internvl3.5-<size> is InternVL3.5; the pipeline passes params "
                        "`family`, so a run with `family_dir: \"\"` is labelled right)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.eval.report import write_report
    from internvl_da.model.registry import get_size

    if args.size is not None:
        get_size(args.size)  # unknown size: ValueError, one line from the CLI (exit 1)
    # no results / bad metrics: exit 1
    text = write_report(args.results, args.out, args.size, args.family)
    print(text, end="")
    return 0
