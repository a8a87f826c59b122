"""`internvl-da prep meta`: a train_meta JSON mixing general SFT data with one domain."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domain", required=True, choices=("drivelm", "medical", "remote"))
    parser.add_argument("--out", required=True, help="output meta .json")
    parser.add_argument("--entry", action="append", default=[], metavar="NAME=ANN,ROOT[,REPEAT]",
                        help="a domain dataset (repeatable)")
    parser.add_argument("--general", action="append", default=[], metavar="NAME=ANN,ROOT",
                        help="a general SFT dataset (repeatable)")
    parser.add_argument("--general-meta", metavar="FILE",
                        help="take the general datasets from an existing InternVL meta file")
    parser.add_argument("--general-repeat", type=float, default=0.03,
                        help="repeat_time of every general dataset (default 0.03)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.meta import general_from_meta, parse_entry, write_meta

    general = [parse_entry(s) for s in args.general]
    if args.general_meta:
        general += general_from_meta(args.general_meta)
    meta = write_meta(args.domain, args.out, general, [parse_entry(s) for s in args.entry],
                      args.general_repeat)
    print(f"wrote {args.out}: {len(meta)} datasets ({', '.join(meta)})")
    return 0
