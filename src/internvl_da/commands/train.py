"""`internvl-da train`: fine-tune one (size, domain) with the DA recipe.

Every `--set KEY=VALUE` goes through the params.yaml schema (params.parse_overrides); the data
is checked line by line before the model is built; the console shows a progress bar and one
summary line, the per-step logs go to RUN/train_log.jsonl (issue 11, items 2, 6, 7, 13, 15).
"""

from __future__ import annotations

import argparse

from internvl_da.model.families import FAMILIES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domain", required=True,
                        help="drivelm, medical, remote or a custom domain of the params file")
    parser.add_argument("--family", choices=FAMILIES,
                        help="model family (default: `family` of the params file)")
    parser.add_argument("--size", help="tiny, 1b, 2b or 4b of the family, or a registry key "
                        "(tiny-llama, tiny-phi3, tiny-qwen3, internvl3.5-1b, ...) "
                        "(default: `size` of the params file)")
    parser.add_argument("--params", help="params file with the recipe (default: ./params.yaml)")
    parser.add_argument("--meta", help="train_meta JSON (default: the pipeline's, "
                        "data/prepared/DATA/SOURCE/meta/DOMAIN.json)")
    parser.add_argument("--output", help="run directory (default: the pipeline's, "
                        "runs/TREE/DOMAIN; TREE = SIZE, or internvl3.5-SIZE for InternVL3.5)")
    parser.add_argument("--checkpoint", help="native InternVL checkpoint (1b/2b/4b)")
    parser.add_argument("--max-steps", type=int, help="override the recipe's max_steps")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true",
                        help="continue from the newest complete checkpoint in --output (an "
                        "error if there is none, or if it was trained with other settings)")
    resume.add_argument("--resume-if-any", action="store_true",
                        help="as --resume, but start fresh when there is no complete checkpoint")
    parser.add_argument("--force", action="store_true",
                        help="start fresh even though --output holds checkpoints (deletes them)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe setting, checked like params.yaml (e.g. "
                        "freeze_vit=true, lora_llm=8; booleans are true/false)")
    parser.add_argument("--live-dir", help="log the training curves with dvclive into this folder")
    parser.add_argument("--report-to", action="append", default=[],
                        help="Trainer loggers, e.g. dvclive (default: none)")


def default_output(tree: str, domain: str) -> str:
    """The pipeline's run folder (dvc.yaml: runs/${family_dir}${size}/<domain>)."""
    return f"runs/{tree}/{domain}"


def run(args: argparse.Namespace) -> int:
    from internvl_da.params import load_params, meta_path, model_name, parse_overrides, tree
    from internvl_da.train.console import summary_line
    from internvl_da.train.finetune import finetune
    from internvl_da.train.recipe import recipe

    overrides = parse_overrides(args.set)
    if args.max_steps is not None:
        overrides["max_steps"] = args.max_steps
    params = load_params(args.params)
    size = model_name(params, args.size, args.family)
    cfg = recipe(size, args.domain, params, **overrides)
    meta = args.meta or str(meta_path(params, args.domain))
    output = args.output or default_output(tree(params, args.size, args.family), args.domain)
    metrics = finetune(cfg, meta, output, args.checkpoint, args.resume or args.resume_if_any,
                       args.report_to, args.live_dir, force=args.force,
                       fresh_if_none=args.resume_if_any)
    print(summary_line(metrics, output, cfg.max_steps))
    return 0
