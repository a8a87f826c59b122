"""The `internvl-da` command line: a thin layer over the library.

Each subcommand lives in `internvl_da.commands.<module>`, which defines
`add_arguments(parser)` and `run(args) -> int`; the module parses and calls one library
function. This file only routes. `main(argv)` is callable from tests.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# (group, name) -> (module under internvl_da.commands, one-line help). group None = top level.
COMMANDS: dict[tuple[str | None, str], tuple[str, str]] = {
    ("prep", "sample"): ("prep_sample", "generate the embedded sample data (all raw formats)"),
    ("prep", "stitch-drivelm"): ("prep_stitch", "stitch six nuScenes cameras into one image"),
    ("prep", "drivelm"): ("prep_drivelm", "DriveLM v1.1 QA -> InternVL JSONL on stitched images"),
    ("prep", "rsvqa"): ("prep_rsvqa", "RSVQA LR/HR raw annotations -> InternVL train/test"),
    ("prep", "dior-rsvg"): ("prep_dior", "DIOR-RSVG VOC annotations -> InternVL train/test"),
    ("prep", "meta"): ("prep_meta", "write a train_meta JSON: general SFT mix + one domain"),
    ("data", "check"): ("data_check", "validate a meta JSON or JSONL; report every problem"),
    (None, "train"): ("train", "fine-tune one size on one domain with the DA recipe"),
    (None, "eval"): ("eval", "run a benchmark on a checkpoint: predictions + metrics"),
    (None, "score"): ("score", "score a predictions file on CPU; prints metrics JSON"),
    (None, "convert"): ("convert", "original InternVL2 checkpoint <-> native transformers"),
    (None, "stage"): ("stage", "run one pipeline stage of dvc.yaml from params.yaml"),
    (None, "report"): ("report", "results.md: our metrics next to the paper's tables"),
    (None, "export-vlmevalkit"): ("export_vlmevalkit", "print VLMEvalKit's registration of a "
                                  "checkpoint exported with convert --to-internvl"),
}

GROUP_HELP = {
    "prep": "prepare data: sample data, stitching, format conversion, meta files",
    "data": "inspect and validate training data",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="internvl-da",
        description="Reproducible Mini-InternVL domain adaptation: data, training, evaluation.",
    )
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for (group, name), (module_name, help_text) in COMMANDS.items():
        if group is None:
            sub = top.add_parser(name, help=help_text, description=help_text)
        else:
            if group not in groups:
                gp = top.add_parser(group, help=GROUP_HELP[group], description=GROUP_HELP[group])
                groups[group] = gp.add_subparsers(dest="subcommand", metavar="SUBCOMMAND",
                                                  required=True)
            sub = groups[group].add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(f"internvl_da.commands.{module_name}")
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from internvl_da.repro import set_cpu_environment

    set_cpu_environment()  # before any command imports torch
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
