"""`internvl-da export-vlmevalkit`: print VLMEvalKit's registration of an exported checkpoint."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="DIR",
                        help="original-layout checkpoint (from `internvl-da convert "
                        "--to-internvl`)")
    parser.add_argument("--name", required=True,
                        help="model name to register, e.g. Mini-InternVL-DA-1B")


def run(args: argparse.Namespace) -> int:
    from internvl_da.eval.vlmevalkit import registration_snippet

    # not an original-layout checkpoint, bad name: ValueError/OSError, one line (exit 1)
    snippet = registration_snippet(args.checkpoint, args.name)
    print(snippet, end="")
    if "# WARNING:" in snippet:
        print("warning: remote-code files missing (see the last line)", file=sys.stderr)
    return 0
