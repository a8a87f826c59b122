"""`internvl-da prep meta`: a train_meta JSON of one's own, mixing general SFT data with one domain
(the pipeline reads the released metas instead: prep/released.py)."""

from __future__ import annotations

import argparse

SPEC = "NAME=ANNOTATION,ROOT[,REPEAT[,MAX_DYNAMIC_PATCH]]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domain", required=True, choices=("drivelm", "medical", "remote"))
    parser.add_argument("--out", required=True, help="output meta .json")
    parser.add_argument("--entry", action="append", default=[], metavar=SPEC,
                        help="a domain dataset (repeatable; REPEAT default 1)")
    parser.add_argument("--general", action="append", default=[], metavar="NAME=ANNOTATION,ROOT",
                        help="a general SFT dataset (repeatable)")
    parser.add_argument("--general-meta", metavar="FILE",
                        help="take the general datasets from an existing InternVL meta file "
                             "(full data: internvl_1_2_finetune.json, 9 entries)")
    parser.add_argument("--general-repeat", type=float,
                        help="repeat_time of every general dataset (default 0.03, the bdd "
                             "meta file's value; [verify] for the other domains)")


def run(args: argparse.Namespace) -> int:
    from internvl_da.prep.meta import prepare_meta

    print(prepare_meta(args.domain, args.out, general=args.general,
                       general_meta=args.general_meta, entries=args.entry,
                       general_repeat=args.general_repeat))
    return 0
