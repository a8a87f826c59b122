"""DriveLM v1.1 QA -> InternVL JSONL on the stitched frames (spec training.md §9.2).

One line per QA item, in the order perception + prediction + planning + behavior of each key
frame; `id` = `{scene}_{frame}_{i}`, `image` = `{scene}_{frame}.jpg`. Object tags
`<c1,CAM_FRONT,1088.3,497.5>` become `<c1,CAM_FRONT,[x,y]>` on the 0-1000 stitched canvas
(data/coords.py). Validation lines keep the original question as `question_old`.

Prompt wording: the human turn is `<image>\\n` + the question. The paper says prompts explain the
tag encoding; the released wording is unverified, so that sentence is optional
(`object_hint=True` prefixes OBJECT_HINT). A questions-only file (no "A") yields lines with
`"answer_available": false` and an empty answer: evaluation input, never training data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from internvl_da.data.coords import RAW_TAG, normalize_tags
from internvl_da.data.errors import SampleError
from internvl_da.fileio import write_jsonl

QA_ORDER = ("perception", "prediction", "planning", "behavior")
OBJECT_HINT = (
    "Objects are encoded using <c, CAM, [cx,cy]>, where c is the identifier, CAM indicates the "
    "camera where the object's center point is situated, and x, y represent the horizontal and "
    "vertical coordinates of the center point of the 2D bounding box. "
)
_TAG_LIKE = re.compile(r"<c\d+,[^<>]*>")


def _normalised(text: str, where: str, source: str) -> str:
    for tag in _TAG_LIKE.findall(text):
        if not RAW_TAG.fullmatch(tag):
            raise SampleError(source, None, f"{where}: malformed object tag {tag!r}")
    try:
        return normalize_tags(text)
    except ValueError as exc:
        raise SampleError(source, None, f"{where}: {exc}") from None


def convert_drivelm(raw: dict, split: str = "train", object_hint: bool = False,
                    source: str = "<drivelm>") -> list[dict]:
    """InternVL records for every QA item of a DriveLM v1.1 annotation dict."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    records = []
    for scene, info in raw.items():
        for frame, data in info.get("key_frames", {}).items():
            items = [qa for part in QA_ORDER for qa in data.get("QA", {}).get(part, [])]
            for i, qa in enumerate(items):
                where = f"scene {scene} frame {frame} QA {i}"
                if not isinstance(qa.get("Q"), str):
                    raise SampleError(source, None, f"{where}: missing question 'Q'")
                question = _normalised(qa["Q"], where, source)
                prompt = "<image>\n" + (OBJECT_HINT if object_hint else "") + question
                answer = qa.get("A")
                record = {"id": f"{scene}_{frame}_{i}", "image": f"{scene}_{frame}.jpg",
                          "conversations": [
                              {"from": "human", "value": prompt},
                              {"from": "gpt", "value": _normalised(answer, where, source)
                               if isinstance(answer, str) else ""}]}
                if split == "val":
                    record["question_old"] = qa["Q"]
                if not isinstance(answer, str):
                    if split == "train":
                        raise SampleError(source, None, f"{where}: training item has no answer")
                    record["answer_available"] = False
                records.append(record)
    return records


def prepare_drivelm(ann_file: str | Path, out: str | Path, split: str = "train",
                    object_hint: bool = False) -> int:
    """Convert one DriveLM annotation file; returns the number of lines written."""
    raw = json.loads(Path(ann_file).read_text(encoding="utf-8"))
    records = convert_drivelm(raw, split, object_hint, source=str(ann_file))
    write_jsonl(out, records)
    return len(records)
