"""Medical training data: already InternVL JSONL, so preparation = validation + a summary.

The released `medical_sft_sample500k.jsonl` (training.md §8.2) and the sample's
`medical/medical_sft.jsonl` need no conversion. `validate_medical` runs the shared validator
(every problem as `file:line: reason`, spec §8.4) and adds what the validator does not say: how
many lines are single-image / multi-image / text-only, how many QA pairs there are, and how the
images spread over top-level folders (in a merged SFT file the folder is the source dataset;
the release's folder layout is [verify]). No CLI of its own: `internvl-da data check` validates.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from internvl_da.data.errors import SampleError
from internvl_da.data.validate import CheckOptions, Problem, check_jsonl, summarise


@dataclass(frozen=True)
class JsonlSummary:
    """Counts over the lines of one conversation JSONL file."""

    path: str
    lines: int = 0
    kinds: Counter = field(default_factory=Counter)  # single / multi / text / unparsed
    qa_pairs: int = 0
    folders: Counter = field(default_factory=Counter)  # first path component of each image

    def __str__(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.kinds.items()))
        folders = ", ".join(f"{k} {v}" for k, v in sorted(self.folders.items()))
        return (f"{self.path}: {self.lines} lines ({kinds}), {self.qa_pairs} QA pairs; "
                f"images by folder: {folders or 'none'}")


def _kind(obj) -> tuple[str, list[str]]:
    if not isinstance(obj, dict):
        return "unparsed", []
    image = obj.get("image")
    if isinstance(image, str):
        return "single", [image]
    if isinstance(image, list) and all(isinstance(i, str) for i in image):
        return "multi", image
    return ("text", []) if image is None else ("unparsed", [])


def summarise_jsonl(path: str | Path) -> JsonlSummary:
    """Line kinds, QA pairs and image folders of a JSONL file (malformed lines: 'unparsed')."""
    if not os.path.isfile(path):
        raise SampleError(str(path), None, "file not found")
    kinds: Counter = Counter()
    folders: Counter = Counter()
    lines = qa_pairs = 0
    with open(path, encoding="utf-8") as handle:
        for text in tqdm(handle, desc=f"summarise {os.path.basename(str(path))}", unit="line",
                         leave=False):
            if not text.strip():
                continue
            lines += 1
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                obj = None
            kind, images = _kind(obj)
            kinds[kind] += 1
            folders.update(i.split("/", 1)[0] if "/" in i else "." for i in images)
            turns = obj.get("conversations") if kind != "unparsed" else None
            if isinstance(turns, list):
                qa_pairs += sum(isinstance(t, dict) and t.get("from") == "gpt" for t in turns)
    return JsonlSummary(str(path), lines, kinds, qa_pairs, folders)


@dataclass(frozen=True)
class MedicalCheck:
    summary: JsonlSummary
    problems: list[Problem]

    def __str__(self) -> str:
        return f"{self.summary}\n{self.summary.path}: {summarise(self.problems)}"


def validate_medical(jsonl: str | Path, root: str | Path,
                     options: CheckOptions | None = None) -> MedicalCheck:
    """Validate a medical JSONL with the shared checks (images under `root`) and summarise it."""
    return MedicalCheck(summarise_jsonl(jsonl), check_jsonl(jsonl, root, options=options))
