"""`internvl-da train`: fine-tune one (size, domain) with the DA recipe."""

from __future__ import annotations

import argparse
from contextlib import suppress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domain", required=True, choices=("drivelm", "medical", "remote"))
    parser.add_argument("--size", help="tiny, tiny-llama, tiny-phi3 (in-process), 1b, 2b or 4b "
                        "(default: `size` of the params file)")
    parser.add_argument("--params", help="params file with the recipe (default: ./params.yaml)")
    parser.add_argument("--meta", help="train_meta JSON (default: PREPARED/meta/DOMAIN.json, "
                        "written by `dvc repro prepare_DOMAIN`)")
    parser.add_argument("--output", help="run directory (default: runs/DOMAIN-SIZE)")
    parser.add_argument("--checkpoint", help="native InternVL checkpoint (1b/2b/4b)")
    parser.add_argument("--max-steps", type=int, help="override the recipe's max_steps")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the latest checkpoint in --output")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any recipe setting (e.g. freeze_vit=true, lora_llm=8)")
    parser.add_argument("--live-dir", help="log the training curves with dvclive into this folder")
    parser.add_argument("--report-to", action="append", default=[],
                        help="Trainer loggers, e.g. dvclive (default: none)")


def _value(text: str):
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        with suppress(ValueError):
            return cast(text)
    return text


def run(args: argparse.Namespace) -> int:
    from internvl_da.params import load_params, meta_path
    from internvl_da.train.finetune import finetune
    from internvl_da.train.recipe import recipe

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        overrides[key] = _value(value)
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    params = load_params(args.params)
    size = args.size or params["size"]
    cfg = recipe(size, args.domain, params, **overrides)
    meta = args.meta or str(meta_path(params, args.domain))
    output = args.output or f"runs/{args.domain}-{size}"
    metrics = finetune(cfg, meta, output, args.checkpoint, args.resume, args.report_to,
                       args.live_dir)
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()})
    return 0
