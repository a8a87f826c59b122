"""`internvl-da score`: score a predictions file (no model needed); prints metrics JSON."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench", help="drivelm, rsvqa-lr, rsvqa-hr-test1, rsvqa-hr-test2, "
                        "dior-rsvg, mme-realworld, gmai, or your own domain's custom-vqa, "
                        "custom-caption, custom-mcq, custom-grounding")
    parser.add_argument("predictions", help="predictions.jsonl written by `internvl-da eval` "
                        "(drivelm: also DriveLM's output.json list or its challenge "
                        "submission.json object with `results`)")
    parser.add_argument("--details", metavar="FILE",
                        help="also write one JSON line per record: id, correct (and box, iou; "
                        "drivelm: tags, correct, f1, skipped)")
    parser.add_argument("--extractor", choices=("internvl", "official"),
                        help="mme-realworld answer extraction (default internvl: comparable "
                        "with the paper's Table 5; official: MME-RealWorld's own)")
    parser.add_argument("--iou", choices=("standard", "dior"),
                        help="custom-grounding: standard IoU >= 0.5 (default) or DIOR-RSVG's "
                        "rule (+1-pixel areas, IoU > 0.5)")
    drive = parser.add_argument_group("drivelm")
    drive.add_argument("--gt", metavar="FILE",
                       help="DriveLM QA JSON with answers and tags (DriveLM's layout; the "
                       "val ground truth is not public, the server scores it); needed unless "
                       "the records carry answer_old and tag")
    llm = parser.add_argument_group("LLM judge (drivelm: ChatGPT score; gmai: choice extraction "
                                    "when the rules match no option)")
    llm.add_argument("--judge-cache", metavar="FILE",
                     help="JSONL of judge replies (drivelm {answer, gt, score}; gmai {prompt, "
                     "reply}): replayed first, new replies appended; without it drivelm's "
                     "chatgpt, match and final are null and gmai is rule-based only")
    llm.add_argument("--judge-base-url", help="OpenAI-compatible endpoint (default OpenAI's)")
    llm.add_argument("--judge-model", help="default: drivelm gpt-3.5-turbo (DriveLM), gmai "
                     "gpt-3.5-turbo-0125 (VLMEvalKit's chatgpt-0125)")
    llm.add_argument("--judge-temperature", type=float,
                     help="default: drivelm 0.6 (DriveLM), gmai 0")
    llm.add_argument("--judge-api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                     help="environment variable holding the API key; when it is unset the "
                     "judge only replays the cache (default OPENAI_API_KEY)")


# Per benchmark: the judge's reference model and temperature.
JUDGE_DEFAULTS = {"drivelm": ("gpt-3.5-turbo", 0.6), "gmai": ("gpt-3.5-turbo-0125", 0.0)}


def _settings(args: argparse.Namespace, max_tokens: int):
    from internvl_da.eval.judge import JudgeSettings

    model, temperature = JUDGE_DEFAULTS[args.bench]
    return JudgeSettings(model=args.judge_model or model,
                         temperature=(temperature if args.judge_temperature is None
                                      else args.judge_temperature),
                         max_tokens=max_tokens, base_url=args.judge_base_url,
                         api_key_env=args.judge_api_key_env)


def _judge(args: argparse.Namespace):
    if not args.judge_cache:
        return None
    from internvl_da.eval.judge import Judge, JudgeCache, make_client

    settings = _settings(args, max_tokens=3000)
    return Judge(JudgeCache(args.judge_cache), make_client(settings), settings)


def _choice_judge(args: argparse.Namespace):
    """GMAI's LLM choice extraction (VLMEvalKit), only with --judge-cache."""
    if not args.judge_cache:
        return None
    from internvl_da.eval.judge import ChoiceJudge, ReplyCache, make_client

    settings = _settings(args, max_tokens=256)
    return ChoiceJudge(ReplyCache(args.judge_cache), make_client(settings), settings)


def run(args: argparse.Namespace) -> int:
    from internvl_da.eval.score import score_file

    options = {}
    if args.bench == "drivelm":
        options = {"gt": args.gt, "judge": _judge(args)}
    elif args.bench == "gmai" and not args.gt:
        options = {"llm": _choice_judge(args)}
    elif args.gt or args.judge_cache:
        raise ValueError("--gt applies only to drivelm, --judge-* to drivelm and gmai")
    if args.extractor is not None:
        options["extractor"] = args.extractor
    if args.iou is not None:
        options["iou"] = args.iou
    print(json.dumps(score_file(args.bench, args.predictions, args.details, **options),
                     indent=1))
    return 0
