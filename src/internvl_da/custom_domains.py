"""Your own domains as data: params.yaml `custom`, checked, and where each domain's files go.

    custom:
      general_holdout: 8            # general SFT items held out of every custom fine-tune
      domains:
        NAME: {table: FILE, images: DIR, task: vqa|caption|mcq|grounding,
               general_ratio: 1.0,  # general:domain training lines (0 = no general mix)
               test_fraction: 0.2,  # share of the images held out for the test side
               max_steps: ...}      # optional: any recipe key, over recipe.<size>.custom

A NAME is the word in stage names (`custom_finetune@NAME`), results folders and the report, so
it must be a plain lower-case word and not one of the paper's domains or model names. The
recipe of a custom domain is `recipe.<size>.custom` with the domain's own recipe keys on top.
InternVL's maintainers advise general:domain between 1:1 and 5:1 against forgetting
(issue 14); the sample uses 1:1.
"""

from __future__ import annotations

import re
from pathlib import Path

TASKS = ("vqa", "caption", "mcq", "grounding")
PAPER_DOMAINS = ("drivelm", "medical", "remote")  # prep/meta.DOMAINS (light import here)
# paper domains, model and folder names, benchmark folders (results/<size>/<model>/<bench>)
RESERVED = {*PAPER_DOMAINS, "base", "general", "custom", "metrics", "mme-realworld", "gmai",
            "rsvqa-lr", "rsvqa-hr-test1", "rsvqa-hr-test2", "dior-rsvg",
            *(f"custom-{t}" for t in TASKS)}
NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
DOMAIN_KEYS = {"table": str, "images": str, "task": str, "general_ratio": float,
               "test_fraction": float}
SECTION_KEYS = {"general_holdout": int, "domains": dict}
GENERAL = "general"  # the held-out general set's model-independent name (results/<m>/general)


def check_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not NAME.match(name) or name in RESERVED \
            or name.startswith("released-"):
        raise ValueError(f"{where}: domain name {name!r} must be a lower-case word "
                         f"([a-z0-9_-]) other than {', '.join(sorted(RESERVED))} and "
                         "released-*")
    return name


def check_domain(entry: dict, where: str) -> None:
    """Values of one declared domain (types are checked by params.check_params)."""
    if entry["task"] not in TASKS:
        raise ValueError(f"{where}.task: {entry['task']!r} is not one of {', '.join(TASKS)}")
    if not entry["general_ratio"] >= 0:
        raise ValueError(f"{where}.general_ratio: must be >= 0, got {entry['general_ratio']}")
    if not 0 < entry["test_fraction"] < 1:
        raise ValueError(f"{where}.test_fraction: must be between 0 and 1, got "
                         f"{entry['test_fraction']}")


def domains(params: dict) -> dict[str, dict]:
    """The declared custom domains (name -> entry)."""
    return params.get("custom", {}).get("domains") or {}


def is_custom(params: dict, domain: str) -> bool:
    return domain in domains(params)


def get_domain(params: dict, name: str) -> dict:
    declared = domains(params)
    if name not in declared:
        raise ValueError(f"unknown custom domain {name!r}; params.yaml custom.domains declares "
                         f"{', '.join(sorted(declared)) or 'none'}")
    return declared[name]


def domain_dir(prepared: Path, name: str) -> Path:
    """data/prepared/<data>/custom/<name>: train.jsonl, test.jsonl, meta.json, mix.json."""
    return Path(prepared) / "custom" / name


def general_dir(prepared: Path) -> Path:
    """data/prepared/<data>/custom/general: holdout.jsonl + the general lines left to train."""
    return Path(prepared) / "custom" / GENERAL
