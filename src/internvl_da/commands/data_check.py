"""`internvl-da data check`: validate a meta JSON or one JSONL file, report every problem.

Prints each problem as `file:line: reason`, then counts per dataset and a total line — lines
checked, rejected, and kept as the reference keeps them (tail text truncated; a leading gpt
turn dropped, spec §8.3); exits 1 when there is any problem, 0 otherwise (2 on a usage error).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="META_OR_JSONL",
                        help="a train_meta .json (checks every dataset with its own root and "
                        "max_dynamic_patch) or one annotation .jsonl")
    parser.add_argument("--root", metavar="DIR",
                        help="image root of a .jsonl (default: the .jsonl's directory); not "
                        "allowed with a meta file, whose entries name their roots")
    parser.add_argument("--tokenizer", metavar="DIR",
                        help="local tokenizer directory (no remote code); enables the length "
                        "check: a sample whose image block --max-seq-length would cut is "
                        "rejected, one cut only in its tail text is kept (as the reference)")
    parser.add_argument("--template", metavar="NAME",
                        help="conversation template: Hermes-2, internlm2-chat or phi3-chat; "
                        "required with --tokenizer")
    parser.add_argument("--max-seq-length", type=int, default=8192, metavar="N",
                        help="token budget per sample incl. image tokens (default: 8192, the "
                        "recipe's)")
    parser.add_argument("--max-num", type=int, default=12, metavar="N",
                        help="max tiles per image where the meta entry sets no "
                        "max_dynamic_patch (default: 12)")
    parser.add_argument("--tokens-per-tile", type=int, default=256, metavar="N",
                        help="image context tokens per tile (default: 256, InternVL2 at 448 px)")
    parser.add_argument("--image-size", type=int, default=448, metavar="PX",
                        help="tile size in pixels (default: 448)")
    parser.add_argument("--no-images", action="store_true",
                        help="do not open images (structure and paths only; no length check)")
    parser.add_argument("--rejects", metavar="FILE",
                        help="also write the problems as JSON lines {file, line, reason}")


def run(args: argparse.Namespace) -> int:
    from internvl_da.data.validate import check_path, summary_lines

    try:
        reports = check_path(
            args.path, args.root, tokenizer_dir=args.tokenizer, rejects=args.rejects,
            template=args.template, max_seq_length=args.max_seq_length, max_num=args.max_num,
            tokens_per_tile=args.tokens_per_tile, image_size=args.image_size,
            check_images=not args.no_images)
    except (ValueError, OSError) as exc:  # usage: no template, --root with a meta, bad tokenizer
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        for problem in report.problems:
            print(problem)
    for line in summary_lines(reports):
        print(line)
    return 1 if any(r.problems for r in reports) else 0
