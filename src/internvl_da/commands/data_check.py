"""`internvl-da data check`: validate a meta JSON or one JSONL file, report every problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="META_OR_JSONL",
                        help="a train_meta .json (checks every dataset) or one .jsonl file")
    parser.add_argument("--root", help="image root of a .jsonl (default: its directory)")
    parser.add_argument("--tokenizer", metavar="DIR",
                        help="tokenizer directory; enables the max_seq_length check")
    parser.add_argument("--template", help="conversation template (Hermes-2, internlm2-chat, "
                        "phi3-chat); required with --tokenizer")
    parser.add_argument("--max-seq-length", type=int, default=8192,
                        help="token budget per sample (default 8192, the recipe's)")
    parser.add_argument("--max-num", type=int, default=12,
                        help="max tiles per image unless the meta entry says otherwise")
    parser.add_argument("--tokens-per-tile", type=int, default=256,
                        help="image tokens per tile (256 for InternVL2 at 448 px)")
    parser.add_argument("--image-size", type=int, default=448, help="tile size in pixels")
    parser.add_argument("--no-images", action="store_true",
                        help="skip opening images (structure only)")
    parser.add_argument("--rejects", metavar="FILE",
                        help="also write the problems as JSON lines {file, line, reason}")


def run(args: argparse.Namespace) -> int:
    from internvl_da.data.validate import (
        CheckOptions,
        check_jsonl,
        check_meta,
        summarise,
        write_rejects,
    )

    tokenizer = None
    if args.tokenizer:
        if not args.template:
            print("error: --template is required with --tokenizer", file=sys.stderr)
            return 2
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer, trust_remote_code=False)
    options = CheckOptions(tokenizer, args.template, args.max_seq_length, args.max_num,
                           args.tokens_per_tile, args.image_size, not args.no_images)
    path = Path(args.path)
    if path.suffix == ".json":
        problems = check_meta(path, options)
    else:
        problems = check_jsonl(path, args.root or path.parent, options=options)
    for problem in problems:
        print(problem)
    if args.rejects:
        write_rejects(problems, args.rejects)
    print(f"{args.path}: {summarise(problems)}", file=sys.stderr)
    return 1 if problems else 0
