"""The released InternVL-Domain-Adaptation-Data layout, and the train_meta the fine-tunes read.

The paper's runs read `train_meta/internvl_1_2_finetune_<domain>.json` of the dataset as it is
(training.md §3, §8.2): the nine InternVL-1.2 general SFT entries, each with its own
repeat_time, then the domain entries. Their paths are relative to the directory the reference
scripts run in (`playground/opensource/<name>.jsonl`, `playground/data/...`,
`InternVL-Domain-Adaptation-Data/...`), so here they resolve under data/<data> — the same code
for the released files (data/full) and for the sample, which mirrors the layout.

`source: raw` keeps the released meta and swaps only the domain entries the project can rebuild
from the raw releases (matched by annotation file name; entry names are [verify]) for its own
conversions: not the paper's files.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path

from internvl_da.data.formats import load_meta
from internvl_da.fileio import write_json
from internvl_da.prep.meta import DOMAINS, INTERNVL_1_2_GENERAL, MetaSummary, check_meta_files

DA_DIR = "InternVL-Domain-Adaptation-Data"  # its folder under data/<data> (params local_dir)
GENERAL_ANNOTATIONS = "playground/opensource"  # InternVL-Chat-V1-2-SFT-Data, as the metas say
GENERAL_IMAGES = "playground/data"


def meta_file(domain: str) -> str:
    """The released meta of `domain`, relative to the dataset folder."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose from {DOMAINS}")
    return f"train_meta/internvl_1_2_finetune_{domain}.json"


# Released domain annotations (training.md §8.2) and the val files (evaluation.md §3.1, §4.1,
# §6.1), relative to the dataset folder.
TRAIN_DATA = {
    "drivelm": ("train_data/drivelm_train.jsonl",),
    "medical": ("train_data/medical_sft_sample500k.jsonl",),
    "remote": ("train_data/geochat_instruct.jsonl", "train_data/rsvqa_hr_train_instruct_100k.jsonl",
               "train_data/fit_rs_vqa_100k.jsonl", "train_data/dior_rsvg_instruct_26k.jsonl"),
}
VAL_FILES = ("val/drivelm_val.jsonl", "val/rsvqa_l_test_instruct.json",
             "val/rsvqa_h_test_1_instruct.json", "val/rsvqa_h_test_2_instruct.json",
             "val/dior_rsvg_test.json")


@dataclass(frozen=True)
class Replacement:
    """source: raw — the entry whose annotation file is named `released` reads these instead."""

    released: str  # annotation file name in the released meta
    annotation: str
    root: str


def resolve(path: str, base: str | Path) -> str:
    """A meta path as the reference would open it from `base`: relative paths joined to `base`
    (a trailing `/` of a root is kept; the reference joins image paths with os.path.join);
    absolute paths and `s3://` roots unchanged."""
    if "://" in path or posixpath.isabs(path):
        return path
    return posixpath.join(Path(base).as_posix(), path)


def _raw_entries(path: Path) -> dict[str, dict]:
    load_meta(path)  # every key checked, errors name the file and the dataset
    return json.loads(path.read_text(encoding="utf-8"))


def resolved_meta(meta_path: str | Path, base: str | Path,
                  replacements: tuple[Replacement, ...] = ()) -> dict[str, dict]:
    """The released meta with every root / annotation resolved under `base`, every other key
    (repeat_time, data_augment, max_dynamic_patch, length) and the entry order unchanged."""
    meta_path = Path(meta_path)
    entries = _raw_entries(meta_path)
    swap = {r.released: r for r in replacements}
    used = set()
    out = {}
    for name, entry in entries.items():
        entry = dict(entry)
        found = swap.get(posixpath.basename(entry["annotation"]))
        if found is not None:
            used.add(found.released)
            entry.update(root=found.root, annotation=found.annotation)
        else:
            entry.update(root=resolve(entry["root"], base),
                         annotation=resolve(entry["annotation"], base))
        out[name] = entry
    unused = sorted(set(swap) - used)
    if unused:
        raise ValueError(f"{meta_path}: no entry reads {', '.join(unused)}; source: raw cannot "
                         "swap in the project's conversion (has the released meta changed?)")
    return out


def prepare_released_meta(domain: str, base: str | Path, out: str | Path, *,
                          dataset_dir: str = DA_DIR,
                          replacements: tuple[Replacement, ...] = ()) -> MetaSummary:
    """Write the train_meta of `domain` from the released one under `base` (data/<data>).

    Every annotation and local root must exist and keep >= 1 line after repeat_time, else an
    error names the entry (a missing part of data/full is reported before training starts).
    """
    source = Path(base) / dataset_dir / meta_file(domain)
    hint = ("data: full needs `internvl-da stage fetch-data` and the manual parts it lists "
            "(README, 'Real data'); data: sample needs `dvc repro sample_data`")
    if not source.is_file():
        raise FileNotFoundError(f"{source}: the released meta file is missing. {hint}")
    meta = resolved_meta(source, base, replacements)
    try:
        rows = check_meta_files(meta)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{source}: {exc}. {hint}") from None
    write_json(out, meta, indent=2)
    general = [n for n in meta if n in INTERNVL_1_2_GENERAL]
    notes = [] if tuple(general) == INTERNVL_1_2_GENERAL else [
        f"general entries differ from InternVL-1.2's nine: {general}"]
    return MetaSummary(str(out), rows, notes)
