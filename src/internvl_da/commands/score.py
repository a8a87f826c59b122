"""`internvl-da score`: score a predictions file (no model needed); prints metrics JSON."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench", help="drivelm, rsvqa-lr, rsvqa-hr-test1, rsvqa-hr-test2, "
                        "dior-rsvg, mme-realworld or gmai")
    parser.add_argument("predictions", help="predictions.jsonl written by `internvl-da eval` "
                        "(drivelm: DriveLM's output.json list too)")
    parser.add_argument("--details", metavar="FILE",
                        help="also write one JSON line per record: id, correct (and box, iou; "
                        "drivelm: tags, correct, f1, skipped)")
    parser.add_argument("--extractor", choices=("internvl", "official"),
                        help="mme-realworld answer extraction (default internvl: comparable "
                        "with the paper's Table 5; official: MME-RealWorld's own)")
    drive = parser.add_argument_group("drivelm")
    drive.add_argument("--gt", metavar="FILE",
                       help="DriveLM QA JSON with answers and tags (e.g. v1_1_val_nus.json); "
                       "needed unless the records carry answer_old and tag")
    drive.add_argument("--judge-cache", metavar="FILE",
                       help="JSONL of judge scores {answer, gt, score}: replayed first, new "
                       "replies appended; without it chatgpt, match and final are null")
    drive.add_argument("--judge-base-url", help="OpenAI-compatible endpoint (default OpenAI's)")
    drive.add_argument("--judge-model", default="gpt-3.5-turbo", help="default gpt-3.5-turbo")
    drive.add_argument("--judge-temperature", type=float, default=0.6, help="default 0.6")
    drive.add_argument("--judge-api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                       help="environment variable holding the API key; when it is unset the "
                       "judge only replays the cache (default OPENAI_API_KEY)")


def _judge(args: argparse.Namespace):
    if not args.judge_cache:
        return None
    from internvl_da.eval.judge import Judge, JudgeCache, JudgeSettings, make_client

    settings = JudgeSettings(model=args.judge_model, temperature=args.judge_temperature,
                             base_url=args.judge_base_url, api_key_env=args.judge_api_key_env)
    return Judge(JudgeCache(args.judge_cache), make_client(settings), settings)


def run(args: argparse.Namespace) -> int:
    from internvl_da.eval.score import score_file

    options = {}
    if args.bench == "drivelm":
        options = {"gt": args.gt, "judge": _judge(args)}
    elif args.gt or args.judge_cache:
        raise ValueError("--gt and --judge-* apply only to drivelm")
    if args.extractor is not None:
        options["extractor"] = args.extractor
    print(json.dumps(score_file(args.bench, args.predictions, args.details, **options),
                     indent=1))
    return 0
