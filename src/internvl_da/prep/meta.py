"""Build a train_meta JSON: the general SFT mixture (small repeat_time) plus one domain.

The DA recipe trains on the InternVL-1.2 general SFT entries with a small `repeat_time` (0.03
in the bdd meta file; the other domains' values are unverified) followed by the domain entries
(spec training.md §8.2). General entries come from `--general` specs or from an existing
InternVL meta file (`--general-meta`, e.g. `internvl_1_2_finetune.json`); domain entries from
`--entry` specs. Output keys keep a fixed order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from internvl_da.data.formats import load_meta
from internvl_da.fileio import write_json

DOMAINS = ("drivelm", "medical", "remote")
DEFAULT_GENERAL_REPEAT = 0.03  # [verify] known for the bdd meta file only


@dataclass(frozen=True)
class EntrySpec:
    name: str
    annotation: str
    root: str
    repeat_time: float = 1
    data_augment: bool = False
    max_dynamic_patch: int | None = None


def parse_entry(spec: str) -> EntrySpec:
    """`NAME=ANNOTATION,ROOT[,REPEAT]` -> EntrySpec (REPEAT: int >= 1 or a fraction < 1)."""
    name, sep, rest = spec.partition("=")
    fields = rest.split(",")
    if not sep or not name or len(fields) not in (2, 3) or not all(fields[:2]):
        raise ValueError(f"entry {spec!r}: expected NAME=ANNOTATION,ROOT[,REPEAT]")
    repeat: float = 1
    if len(fields) == 3:
        value = float(fields[2])
        repeat = int(value) if value >= 1 and value.is_integer() else value
    return EntrySpec(name, fields[0], fields[1], repeat)


def _as_dict(entry: EntrySpec) -> dict:
    out = {"root": entry.root, "annotation": entry.annotation,
           "data_augment": entry.data_augment, "repeat_time": entry.repeat_time}
    if entry.max_dynamic_patch is not None:
        out["max_dynamic_patch"] = entry.max_dynamic_patch
    return out


def build_meta(general: list[EntrySpec], domain: list[EntrySpec],
               general_repeat: float = DEFAULT_GENERAL_REPEAT) -> dict:
    """The meta dict: general entries re-weighted by `general_repeat`, then domain entries."""
    if not domain:
        raise ValueError("at least one domain entry is required")
    if not 0 < general_repeat <= 1:
        raise ValueError(f"general_repeat must be in (0, 1], got {general_repeat}")
    meta: dict[str, dict] = {}
    for entry in general:
        reweighted = EntrySpec(entry.name, entry.annotation, entry.root, general_repeat,
                               entry.data_augment, entry.max_dynamic_patch)
        meta[entry.name] = _as_dict(reweighted)
    for entry in domain:
        if entry.name in meta:
            raise ValueError(f"dataset name {entry.name!r} used twice")
        meta[entry.name] = _as_dict(entry)
    return meta


def general_from_meta(path: str | Path) -> list[EntrySpec]:
    """The entries of an existing InternVL meta file (their repeat_time is replaced later)."""
    return [EntrySpec(e.name, e.annotation, e.root, e.repeat_time, e.data_augment,
                      e.max_dynamic_patch) for e in load_meta(path).values()]


def write_meta(domain_name: str, out: str | Path, general: list[EntrySpec],
               domain: list[EntrySpec], general_repeat: float = DEFAULT_GENERAL_REPEAT) -> dict:
    """Check that every annotation exists, then write the meta JSON."""
    if domain_name not in DOMAINS:
        raise ValueError(f"unknown domain {domain_name!r}; choose from {DOMAINS}")
    missing = [e.annotation for e in (*general, *domain) if not os.path.isfile(e.annotation)]
    if missing:
        raise FileNotFoundError(f"annotation files not found: {', '.join(missing)}")
    meta = build_meta(general, domain, general_repeat)
    write_json(out, meta, indent=2)
    return meta
