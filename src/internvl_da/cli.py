"""The `internvl-da` command line: a thin layer over the library.

Each subcommand lives in `internvl_da.commands.<module>`, which defines
`add_arguments(parser)` and `run(args) -> int`; the module parses and calls one library
function. This file only routes. `main(argv)` is callable from tests.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from internvl_da import cli_errors as errors

# (group, name) -> (module under internvl_da.commands, one-line help). group None = top level.
COMMANDS: dict[tuple[str | None, str], tuple[str, str]] = {
    ("prep", "sample"): ("prep_sample", "generate the embedded sample data (all raw formats)"),
    ("prep", "stitch-drivelm"): ("prep_stitch", "stitch six nuScenes cameras into one image"),
    ("prep", "drivelm"): ("prep_drivelm", "DriveLM v1.1 QA -> InternVL JSONL on stitched images"),
    ("prep", "rsvqa"): ("prep_rsvqa", "RSVQA LR/HR raw annotations -> InternVL train/test"),
    ("prep", "dior-rsvg"): ("prep_dior", "DIOR-RSVG VOC annotations -> InternVL train/test"),
    ("prep", "custom"): ("prep_custom", "your own domain: images + a CSV/JSONL table -> "
                         "InternVL train/test JSONL"),
    ("prep", "meta"): ("prep_meta", "write a train_meta JSON: general SFT mix + one domain"),
    ("data", "check"): ("data_check", "validate a meta JSON or JSONL; report every problem"),
    (None, "train"): ("train", "fine-tune one size on one domain with the DA recipe"),
    (None, "eval"): ("eval", "run a benchmark on a checkpoint: predictions + metrics"),
    (None, "score"): ("score", "score a predictions file on CPU; prints metrics JSON"),
    (None, "convert"): ("convert", "original InternVL2 checkpoint <-> native transformers"),
    (None, "stage"): ("stage", "run one pipeline stage of dvc.yaml from params.yaml"),
    (None, "custom"): ("custom", "one pipeline stage of your own domains (params.yaml custom)"),
    (None, "report"): ("report", "results.md: our metrics next to the paper's tables"),
    (None, "export-vlmevalkit"): ("export_vlmevalkit", "print VLMEvalKit's registration of a "
                                  "checkpoint exported with convert --to-internvl"),
}

GROUP_HELP = {
    "prep": "prepare data: sample data, stitching, format conversion, meta files",
    "data": "inspect and validate training data",
}


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line: `internvl-da eval: argument ...` (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="internvl-da",
        description="Reproducible Mini-InternVL domain adaptation: data, training, evaluation.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of expected errors too (also INTERNVL_DA_DEBUG=1)")
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
        # also after the subcommand; SUPPRESS keeps a top-level --debug when it is not repeated
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help=argparse.SUPPRESS)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from internvl_da.repro import set_cpu_environment

    set_cpu_environment()  # before any command imports torch
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("INTERNVL_DA_DEBUG", "") not in ("", "0")
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # commands raise SystemExit("message") for argument misuse
        if not isinstance(exc.code, str):
            raise
        print(f"internvl-da {args.command}: {exc.code}", file=sys.stderr)
        return 2
    except Exception as exc:
        if debug or not errors.expected(exc):
            raise
        print(f"internvl-da: {errors.one_line(exc)}", file=sys.stderr)
        return 1
