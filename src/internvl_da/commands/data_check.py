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
                        help="image root of a .jsonl (default: the root a meta file above it "
                        "gives it, else the .jsonl's directory); not allowed with a meta file, "
                        "whose entries name their roots")
    parser.add_argument("--params", metavar="FILE",
                        help="params file the defaults come from (default: ./params.yaml)")
    parser.add_argument("--family", choices=("internvl2", "internvl3.5"),
                        help="model family of --size (default: `family` of the params file)")
    parser.add_argument("--size", help="model size whose tiles are checked: tokens per tile, "
                        "tile size and template (default: `size` of the params file)")
    parser.add_argument("--tokenizer", metavar="DIR",
                        help="local tokenizer directory (no remote code); enables the length "
                        "check: a sample whose image block --max-seq-length would cut is "
                        "rejected, one cut only in its tail text is kept (as the reference)")
    parser.add_argument("--template", metavar="NAME",
                        help="conversation template: Hermes-2, internlm2-chat or phi3-chat "
                        "(default: the --size model's)")
    parser.add_argument("--max-seq-length", type=int, metavar="N",
                        help="token budget per sample incl. image tokens (default: the params' "
                        "max_seq_length for --size)")
    parser.add_argument("--max-num", type=int, metavar="N",
                        help="max tiles per image where the meta entry sets no "
                        "max_dynamic_patch (default: the params' max_dynamic_patch)")
    parser.add_argument("--tokens-per-tile", type=int, metavar="N",
                        help="image context tokens per tile (default: the --size model's; "
                        "256 for InternVL2, 4 for tiny)")
    parser.add_argument("--image-size", type=int, metavar="PX",
                        help="tile size in pixels (default: the --size model's; 448, tiny 64)")
    parser.add_argument("--no-images", action="store_true",
                        help="do not open images (structure and paths only; no length check)")
    parser.add_argument("--rejects", metavar="FILE",
                        help="also write the problems as JSON lines {file, line, reason}")


def defaults(args: argparse.Namespace) -> dict:
    """Check settings: the flags given, else the params file's values for the model `size`
    (issue 11, item 15: the tiny model's data passes without --tokens-per-tile 4
    --image-size 64)."""
    from internvl_da.model.registry import get_size
    from internvl_da.params import load_params, model_name, recipe_size

    params = load_params(args.params)
    size = model_name(params, args.size, args.family)
    spec = get_size(size)
    shared = dict(params["train"])
    if recipe_size(size) == "tiny":
        shared.update(params["tiny_train"])
    given = {"max_seq_length": args.max_seq_length, "max_num": args.max_num,
             "tokens_per_tile": args.tokens_per_tile, "image_size": args.image_size,
             "template": args.template}
    implied = {"max_seq_length": shared["max_seq_length"], "max_num": shared["max_dynamic_patch"],
               "tokens_per_tile": spec.tokens_per_tile, "image_size": spec.image_size,
               "template": spec.template}  # record rules (internvl2_5 differs) also w/o tokenizer
    return {k: implied[k] if v is None else v for k, v in given.items()}


def jsonl_root(path: str, root: str | None) -> tuple[str | None, str | None]:
    """(root, note): --root, else the root a meta above the .jsonl gives it, else None (the
    .jsonl's own folder); the note says where an inferred root came from."""
    from internvl_da.data.validate import meta_root_for

    if root is not None or not path.endswith("jsonl"):
        return root, None
    found = meta_root_for(path)
    if found is None:
        return None, None
    inferred, meta, name = found
    return inferred, f"{path}: image root {inferred} (dataset {name!r} of {meta})"


def run(args: argparse.Namespace) -> int:
    from internvl_da.data.validate import check_path, print_reports

    try:
        settings = defaults(args)
        root, note = jsonl_root(args.path, args.root)
        if note:
            print(note, file=sys.stderr)
        reports = check_path(
            args.path, root, tokenizer_dir=args.tokenizer, rejects=args.rejects,
            check_images=not args.no_images, **settings)
    except (ValueError, OSError) as exc:  # usage: no template, --root with a meta, bad tokenizer
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return print_reports(reports)
