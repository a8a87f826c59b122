"""Build a train_meta JSON: the general SFT mixture (small repeat_time) plus one domain.

The DA recipe trains on the InternVL-1.2 general SFT entries with a small `repeat_time` (0.03
in the bdd meta file; the other domains' values are [verify]) followed by the domain entries
(spec training.md §8.2). `prep meta` builds a meta of one's own: `general_meta` = an InternVL
meta file (e.g. `internvl_1_2_finetune.json`, the 9 entries of INTERNVL_1_2_GENERAL), every
entry re-weighted, and domain entries given explicitly. The pipeline does not build metas: it
reads the released ones (prep/released.py).
Entry specs on the command line are `NAME=ANNOTATION,ROOT[,REPEAT[,MAX_DYNAMIC_PATCH]]`
(commas, not colons: `s3://` roots, which the reference supports, contain a colon).
Output entries have a fixed key order: root, annotation, data_augment, repeat_time, then the
optional max_dynamic_patch and length.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from internvl_da.data.formats import JsonlIndex, load_meta, select_lines
from internvl_da.fileio import write_json

DOMAINS = ("drivelm", "medical", "remote")
DEFAULT_GENERAL_REPEAT = 0.03  # [verify] known for the bdd meta file only (training.md §8.2)
INTERNVL_1_2_GENERAL = (  # training.md §8.2, in the reference file's order
    "sharegpt4v_instruct_gpt4-vision_cap100k", "llava_instruct_150k_zh",
    "sharegpt4v_mix665k_cap23k_coco-ap9k_lcs3k_sam9k_div2k", "dvqa_train_200k",
    "chartqa_train_18k", "ai2d_train_12k", "docvqa_train_10k", "geoqa+", "synthdog_en",
)


@dataclass(frozen=True)
class EntrySpec:
    """One dataset of a meta file (the schema of training.md §8.1)."""

    name: str
    annotation: str
    root: str
    repeat_time: int | float = 1
    data_augment: bool = False
    max_dynamic_patch: int | None = None
    length: int | None = None  # never read by training; kept when the source has it

    def as_meta(self) -> dict:
        out = {"root": self.root, "annotation": self.annotation,
               "data_augment": self.data_augment, "repeat_time": self.repeat_time}
        if self.max_dynamic_patch is not None:
            out["max_dynamic_patch"] = self.max_dynamic_patch
        if self.length is not None:
            out["length"] = self.length
        return out


def check_repeat(value: float, where: str) -> int | float:
    """A valid repeat_time: > 0, an int when above 1 (the reference asserts it)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{where}: repeat_time must be a positive number, got {value!r}")
    if value > 1:
        if not float(value).is_integer():
            raise ValueError(f"{where}: repeat_time above 1 must be an integer, got {value!r}")
        return int(value)
    return 1 if value == 1 else value


def parse_entry(spec: str) -> EntrySpec:
    """`NAME=ANNOTATION,ROOT[,REPEAT[,MAX_DYNAMIC_PATCH]]` -> EntrySpec."""
    name, sep, rest = spec.partition("=")
    fields = rest.split(",")
    if not sep or not name or not 2 <= len(fields) <= 4 or not all(fields):
        raise ValueError(f"entry {spec!r}: expected NAME=ANNOTATION,ROOT[,REPEAT"
                         "[,MAX_DYNAMIC_PATCH]]")
    try:
        repeat = check_repeat(float(fields[2]), f"entry {name!r}") if len(fields) > 2 else 1
        patch = int(fields[3]) if len(fields) > 3 else None
    except ValueError as exc:
        raise ValueError(f"entry {spec!r}: {exc}") from None
    if patch is not None and patch < 1:
        raise ValueError(f"entry {spec!r}: max_dynamic_patch must be >= 1")
    return EntrySpec(name, fields[0], fields[1], repeat, max_dynamic_patch=patch)


def general_from_meta(path: str | Path) -> dict[str, EntrySpec]:
    """The entries of an existing InternVL meta file (validated), `length` kept."""
    entries = load_meta(path)
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: EntrySpec(name, e.annotation, e.root, e.repeat_time, e.data_augment,
                            e.max_dynamic_patch, raw[name].get("length"))
            for name, e in entries.items()}


def build_meta(general: dict[str, EntrySpec], domain_entries: list[EntrySpec],
               general_repeat: float = DEFAULT_GENERAL_REPEAT) -> dict[str, dict]:
    """The meta dict: general entries (in order) with repeat_time = general_repeat, then the
    domain entries unchanged. Names must be unique; repeat values valid for the reference."""
    if not domain_entries:
        raise ValueError("at least one domain entry is required")
    if not 0 < general_repeat <= 1:
        raise ValueError(f"general_repeat must be in (0, 1], got {general_repeat}")
    meta: dict[str, dict] = {}
    entries = [replace(e, repeat_time=check_repeat(general_repeat, f"general {e.name!r}"))
               for e in general.values()]
    for entry in entries + [replace(e, repeat_time=check_repeat(e.repeat_time, repr(e.name)))
                            for e in domain_entries]:
        if entry.name in meta:
            raise ValueError(f"dataset name {entry.name!r} used twice")
        meta[entry.name] = entry.as_meta()
    return meta


@dataclass(frozen=True)
class MetaSummary:
    """What was written: per dataset (name, repeat_time, lines, lines used); notes."""

    path: str
    rows: list[tuple[str, float, int, int]]
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"wrote {self.path}: {len(self.rows)} datasets"]
        lines += [f"  {n}: repeat_time {r}, {used} of {total} lines"
                  for n, r, total, used in self.rows]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def check_meta_files(meta: dict[str, dict]) -> list[tuple[str, float, int, int]]:
    """Every annotation exists and keeps >= 1 line after repeat_time; local roots exist."""
    missing = [f"{name}: annotation {e['annotation']}" for name, e in meta.items()
               if not os.path.isfile(e["annotation"])]
    missing += [f"{name}: root {e['root']}" for name, e in meta.items()
                if "://" not in e["root"] and not os.path.isdir(e["root"])]
    if missing:
        raise FileNotFoundError("not found: " + "; ".join(missing))
    rows = []
    for name, e in meta.items():
        total = len(JsonlIndex(e["annotation"]))
        used = len(select_lines(total, e["repeat_time"]))
        if used == 0:  # reference keeps int(N * r) lines: the dataset would silently vanish
            raise ValueError(f"dataset {name!r}: repeat_time {e['repeat_time']} keeps 0 of "
                             f"{total} lines of {e['annotation']}")
        rows.append((name, e["repeat_time"], total, used))
    return rows


def _notes(general: dict[str, EntrySpec], from_meta: bool) -> list[str]:
    if not general:
        return ["no general entries: the recipe mixes the InternVL-1.2 general SFT data"]
    if from_meta and tuple(general) != INTERNVL_1_2_GENERAL:
        lacking = [n for n in INTERNVL_1_2_GENERAL if n not in general]
        extra = [n for n in general if n not in INTERNVL_1_2_GENERAL]
        return [f"general entries differ from InternVL-1.2's 9 (missing: {lacking}, "
                f"extra: {extra}, or another order)"]
    return []


def prepare_meta(domain: str, out: str | Path, *, general: Sequence[str] = (),
                 general_meta: str | Path | None = None, entries: Sequence[str] = (),
                 general_repeat: float | None = None) -> MetaSummary:
    """Write the train_meta JSON of one domain (the `prep meta` command).

    `general` / `entries` are entry specs; `general_meta` adds an InternVL meta file's
    entries; `general_repeat` None = DEFAULT_GENERAL_REPEAT.
    Every annotation and local root must exist; every dataset must keep at least one line.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose from {DOMAINS}")
    general_specs = {e.name: e for e in map(parse_entry, general)}
    if general_meta is not None:
        for name, entry in general_from_meta(general_meta).items():
            if name in general_specs:
                raise ValueError(f"dataset name {name!r} used twice")
            general_specs[name] = entry
    domain_specs = [parse_entry(s) for s in entries]
    if general_repeat is None:
        general_repeat = DEFAULT_GENERAL_REPEAT
    meta = build_meta(general_specs, domain_specs, general_repeat)
    rows = check_meta_files(meta)
    write_json(out, meta, indent=2)
    return MetaSummary(str(out), rows, _notes(general_specs, general_meta is not None))
