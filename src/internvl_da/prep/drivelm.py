"""DriveLM v1.1 QA -> InternVL JSONL on the stitched frames (spec training.md §9.2).

One line per QA item, in the order perception + prediction + planning + behavior of each key
frame (the DriveLM scorer's id order, evaluation.md §6.3); `id` = `{scene}_{frame}_{i}`,
`image` = `{scene}_{frame}.jpg` (the stitched frame, prep/stitch.py). Object tags
`<c1,CAM_FRONT,1088.3,497.5>` become `<c1,CAM_FRONT,[x,y]>` on the 0-1000 stitched canvas
(data/coords.py; integers by default, see `normalize_tags`). Validation lines keep the original
question as `question_old`, which the evaluation writes back as DriveLM's `question`, and,
for DriveLM's scorer, the original answer as `answer_old` (camera-pixel tags, the GT the
matcher reads) and the QA's `tag` list when the source has them.

Decisions where the release is [verify]:
- Prompt: the human turn is `<image>\\n` + the normalised question. The paper says prompts
  explain the tag encoding, but the released wording is unknown, so that sentence is opt-in
  (`object_hint=True` inserts OBJECT_HINT before the question).
- Questions-only files (`v1_1_val_nus_q_only.json`, no "A"): accepted for split "val" only.
  Each line carries `"answer_available": false` and an empty gpt turn; the turn is kept because
  the evaluation reads `conversations[1]` as its `gt_answers` field, and the empty answer makes
  the data validator reject the file as training data. A training item without an answer is an
  error.
"""

from __future__ import annotations

import re
from pathlib import Path

from internvl_da.data.coords import RAW_TAG, normalize_tags
from internvl_da.data.errors import SampleError
from internvl_da.fileio import read_json_object, write_jsonl

QA_ORDER = ("perception", "prediction", "planning", "behavior")
OBJECT_HINT = (
    "Objects are encoded using <c, CAM, [cx,cy]>, where c is the identifier, CAM indicates the "
    "camera where the object's center point is situated, and x, y represent the horizontal and "
    "vertical coordinates of the center point of the 2D bounding box. "
)
_TAG_LIKE = re.compile(r"<c\d+,[^<>]*>")  # anything that looks like an object tag


def _normalised(text: str, where: str, source: str, decimals: int) -> str:
    for tag in _TAG_LIKE.findall(text):
        if not RAW_TAG.fullmatch(tag):
            raise SampleError(source, None, f"{where}: malformed object tag {tag!r}")
    try:
        return normalize_tags(text, decimals)
    except ValueError as exc:  # unknown camera
        raise SampleError(source, None, f"{where}: {exc}") from None


def _frame_items(data: object, where: str, source: str) -> list:
    """The frame's QA items in scoring order (missing parts are empty)."""
    qa = data.get("QA") if isinstance(data, dict) else None
    if not isinstance(qa, dict):
        raise SampleError(source, None, f"{where}: no 'QA' object")
    items = []
    for part in QA_ORDER:
        part_items = qa.get(part, [])
        if not isinstance(part_items, list):
            raise SampleError(source, None, f"{where}: QA '{part}' is not a list")
        items.extend(part_items)
    return items


def iter_qa(raw: dict, source: str):
    """(scene, frame, i, qa, where) for every QA item of a DriveLM QA dict, in the order DriveLM
    numbers them (`{scene}_{frame}_{i}`: perception, prediction, planning, behavior); a broken
    scene or frame is an error naming it."""
    for scene, info in raw.items():
        frames = info.get("key_frames") if isinstance(info, dict) else None
        if not isinstance(frames, dict):
            raise SampleError(source, None, f"scene {scene}: no 'key_frames' object")
        for frame, data in frames.items():
            items = _frame_items(data, f"scene {scene} frame {frame}", source)
            for i, qa in enumerate(items):
                yield scene, frame, i, qa, f"scene {scene} frame {frame} QA {i}"


def check_tags(tags: object, where: str, source: str) -> list[int]:
    """A QA's `tag` field: a list of integers (the challenge's metric selectors)."""
    if not isinstance(tags, list) or not all(isinstance(t, int) and not isinstance(t, bool)
                                             for t in tags):
        raise SampleError(source, None, f"{where}: 'tag' must be a list of integers, got {tags!r}")
    return tags


def _record(qa: object, frame_id: str, i: int, split: str, options: dict, where: str,
            source: str) -> dict:
    if not isinstance(qa, dict) or not isinstance(qa.get("Q"), str):
        raise SampleError(source, None, f"{where}: missing question 'Q'")
    answer = qa.get("A")
    if answer is not None and not isinstance(answer, str):
        raise SampleError(source, None, f"{where}: answer 'A' is not a string")
    if answer is None and split == "train":
        raise SampleError(source, None, f"{where}: training item has no answer")
    hint = OBJECT_HINT if options["object_hint"] else ""
    question = _normalised(qa["Q"], where, source, options["decimals"])
    record = {"id": f"{frame_id}_{i}", "image": frame_id + options["image_ext"],
              "conversations": [
                  {"from": "human", "value": "<image>\n" + hint + question},
                  {"from": "gpt", "value": "" if answer is None else
                   _normalised(answer, where, source, options["decimals"])}]}
    if split == "val":  # what output.json and DriveLM's scorer read (evaluation.md §6.3)
        record["question_old"] = qa["Q"]
        if answer is not None:
            record["answer_old"] = answer
        if "tag" in qa:
            record["tag"] = check_tags(qa["tag"], where, source)
    if answer is None:
        record["answer_available"] = False
    return record


def convert_drivelm(raw: dict, split: str = "train", object_hint: bool = False,
                    source: str = "<drivelm>", image_ext: str = ".jpg",
                    decimals: int = 0) -> list[dict]:
    """InternVL records for every QA item of a DriveLM v1.1 annotation dict (pure).

    `decimals` is the precision of the normalised tag coordinates (0: integers).
    Errors name `source`, the scene, the frame and the QA index.
    """
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    options = {"object_hint": object_hint, "image_ext": image_ext, "decimals": decimals}
    return [_record(qa, f"{scene}_{frame}", i, split, options, where, source)
            for scene, frame, i, qa, where in iter_qa(raw, source)]


def prepare_drivelm(ann_file: str | Path, out: str | Path, split: str = "train",
                    object_hint: bool = False, image_ext: str = ".jpg",
                    decimals: int = 0) -> int:
    """Convert one DriveLM annotation file to JSONL (atomic write); returns the line count."""
    raw = read_json_object(ann_file)  # DriveLM QA: {scene: {...}}; bad JSON names the file
    records = convert_drivelm(raw, split, object_hint, str(ann_file), image_ext, decimals)
    write_jsonl(out, records)
    return len(records)
