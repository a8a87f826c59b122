"""Remote sensing: RSVQA (LR/HR) and DIOR-RSVG raw annotations -> InternVL formats.

Training splits become InternVL JSONL; test splits become the evaluation records of
evaluation.md §3.1 (`{id, image, question, gt_answer, type}`) and §4.1
(`{image, prompt, bbox, size}`). The RSVQA training prompt is the evaluation prompt
(question + RSVQA_SUFFIX), so the model is trained on what it is asked at test time.
Raw layouts: docs/data-formats.md.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from internvl_da.data.coords import normalize_box
from internvl_da.data.errors import SampleError
from internvl_da.fileio import write_json, write_jsonl

RSVQA_SUFFIX = "\nAnswer the question using a single word or phrase."
RSVQA_FILES = {"lr": ("LR_split_{split}", "Images_LR"), "hr": ("USGS_split_{split}", "Data")}


def convert_rsvqa(questions: list[dict], answers: list[dict], images: list[dict], *,
                  training: bool, image_ext: str = ".tif", source: str = "<rsvqa>"
                  ) -> tuple[list[dict], Counter]:
    """Records for every active question; inactive entries are counted, never silent."""
    skipped: Counter = Counter()
    answer_by_id = {a["id"]: a for a in answers}
    active_images = {i["id"] for i in images if i.get("active", True)}
    known_images = {i["id"] for i in images}
    records = []
    for q in questions:
        if not q.get("active", True):
            skipped["inactive question"] += 1
            continue
        qid = q["id"]
        if q["img_id"] not in known_images:
            raise SampleError(source, None, f"question {qid}: unknown image id {q['img_id']}")
        if q["img_id"] not in active_images:
            skipped["inactive image"] += 1
            continue
        found = [answer_by_id[a] for a in q.get("answers_ids", []) if a in answer_by_id]
        active = [a for a in found if a.get("active", True)]
        if not active:
            raise SampleError(source, None, f"question {qid}: no active answer")
        image = f"{q['img_id']}{image_ext}"
        answer = active[0]["answer"]
        if training:
            records.append({"id": f"rsvqa_{qid}", "image": image, "conversations": [
                {"from": "human", "value": "<image>\n" + q["question"] + RSVQA_SUFFIX},
                {"from": "gpt", "value": answer}]})
        else:
            records.append({"id": int(qid), "image": image, "question": q["question"],
                            "gt_answer": answer, "type": q["type"]})
    return records, skipped


def _read_json(path: Path, key: str) -> list[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))[key]
    except FileNotFoundError:
        raise SampleError(str(path), None, "file not found") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SampleError(str(path), None, f"not an RSVQA {key} file: {exc}") from None


def prepare_rsvqa(raw_dir: str | Path, variant: str, split: str, out: str | Path,
                  image_ext: str = ".tif") -> tuple[int, Counter]:
    """Convert one RSVQA split; train -> JSONL, other splits -> evaluation JSON list."""
    if variant not in RSVQA_FILES:
        raise ValueError(f"variant must be one of {sorted(RSVQA_FILES)}, got {variant!r}")
    prefix = Path(raw_dir) / RSVQA_FILES[variant][0].format(split=split)
    parts = {key: _read_json(prefix.with_name(f"{prefix.name}_{key}.json"), key)
             for key in ("questions", "answers", "images")}
    records, skipped = convert_rsvqa(parts["questions"], parts["answers"], parts["images"],
                                     training=split == "train", image_ext=image_ext,
                                     source=str(prefix) + "_questions.json")
    (write_jsonl if split == "train" else write_json)(out, records)
    return len(records), skipped


def _text(node: ET.Element, path: str, source: str, where: str) -> str:
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        raise SampleError(source, None, f"{where}: missing <{path}>")
    return found.text.strip()


def parse_dior_annotation(xml_path: str | Path) -> tuple[list[int], list[tuple[str, list[int]]]]:
    """([W, H], [(description, [x1, y1, x2, y2]) per object]) of one VOC file."""
    source = str(xml_path)
    try:
        root = ET.parse(xml_path).getroot()
    except FileNotFoundError:
        raise SampleError(source, None, "annotation file not found") from None
    except ET.ParseError as exc:
        raise SampleError(source, None, f"malformed XML: {exc}") from None
    try:
        size = [int(_text(root, "size/width", source, "image")),
                int(_text(root, "size/height", source, "image"))]
        objects = []
        for k, obj in enumerate(root.findall("object")):
            where = f"object {k}"
            box = [int(float(_text(obj, f"bndbox/{t}", source, where)))
                   for t in ("xmin", "ymin", "xmax", "ymax")]
            if not (0 <= box[0] < box[2] <= size[0] and 0 <= box[1] < box[3] <= size[1]):
                raise SampleError(source, None, f"{where}: box {box} invalid for image {size}")
            objects.append((_text(obj, "description", source, where), box))
    except ValueError as exc:
        if isinstance(exc, SampleError):
            raise
        raise SampleError(source, None, f"non-numeric value: {exc}") from None
    return size, objects


def prepare_dior_rsvg(root: str | Path, split: str, out: str | Path) -> int:
    """Convert one DIOR-RSVG split (stems listed in ROOT/<split>.txt)."""
    root = Path(root)
    split_file = root / f"{split}.txt"
    if not split_file.is_file():
        raise SampleError(str(split_file), None, "split file not found")
    records = []
    for stem in split_file.read_text().split():
        size, objects = parse_dior_annotation(root / "Annotations" / f"{stem}.xml")
        image = f"JPEGImages/{stem}.jpg"
        for k, (description, box) in enumerate(objects):
            ref = f"<ref>{description}</ref>"
            if split == "train":
                x1, y1, x2, y2 = normalize_box(box, size)
                records.append({"id": f"dior_{stem}_{k}", "image": image, "conversations": [
                    {"from": "human", "value": f"<image>\nDetect {ref}"},
                    {"from": "gpt", "value": f"{ref}<box>[[{x1}, {y1}, {x2}, {y2}]]</box>"}]})
            else:
                records.append({"image": image, "prompt": ref, "bbox": box, "size": size})
    (write_jsonl if split == "train" else write_json)(out, records)
    return len(records)
