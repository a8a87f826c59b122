"""Remote sensing: RSVQA (LR/HR) and DIOR-RSVG raw annotations -> InternVL formats.

Training splits become InternVL JSONL; test splits become the evaluation records of
evaluation.md §3.1 (`{id, image, question, gt_answer, type}`) and §4.1
(`{image, prompt, bbox, size}`). Raw layouts: docs/data-formats.md.

RSVQA training prompt = the evaluation prompt (question + RSVQA_SUFFIX, evaluation.md §3.2):
the scorer compares answers exactly (lowercase, punctuation counts), so the model must learn the
single-word answer style it is asked for at test time. The wording of InternVL's released
`rsvqa_hr_train_instruct_100k.jsonl` is [verify]. Answers are taken verbatim (reference loaders
read `answers[question["answers_ids"][0]]`; we take the first *active* answer).

DIOR-RSVG split files: the sample lists image stems (`split_format="stems"`: every object of
each listed image). The RSVG-pytorch release lists global object indices instead
(`split_format="objects"`): its loader counts the objects of every `Annotations/*.xml` in
directory-walk order and keeps the counts listed; we count in sorted file-name order
(DIOR stems are zero-padded numbers, so this is the natural order) [verify against the release].
`split_format="auto"` (the default) tells them apart: stems when every line names an
`Annotations/<line>.xml`, object indices when every line is a number (indices are not
zero-padded, so `17` has no `17.xml`), else an error naming `--split-format`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from internvl_da.data.coords import normalize_box
from internvl_da.data.errors import SampleError
from internvl_da.data.tokens import BOX_END, BOX_START, IMAGE_TAG, REF_END, REF_START
from internvl_da.fileio import write_json, write_jsonl

RSVQA_SUFFIX = "\nAnswer the question using a single word or phrase."
# variant -> (file prefix, image folder inside the raw directory)
RSVQA_FILES = {"lr": ("LR_split_{split}", "Images_LR"), "hr": ("USGS_split_{split}", "Data")}
RSVQA_SPLITS = {"lr": ("train", "test"), "hr": ("train", "test", "test_phili")}
DIOR_SPLIT_FORMATS = ("auto", "stems", "objects")


def _field(entry: dict, key: str, source: str, what: str):
    if key not in entry:
        raise SampleError(source, None, f"{what}: missing {key!r}")
    return entry[key]


def _rsvqa_answer(q: dict, answer_by_id: dict, source: str) -> str:
    """The first active answer of an active question (errors name the question id)."""
    qid = q["id"]
    found = []
    for aid in _field(q, "answers_ids", source, f"question {qid}"):
        if aid not in answer_by_id:
            raise SampleError(source, None, f"question {qid}: answer id {aid} not in answers file")
        found.append(answer_by_id[aid])
    active = [a for a in found if a.get("active", True)]
    if not active:
        raise SampleError(source, None, f"question {qid}: no active answer")
    return str(_field(active[0], "answer", source, f"answer {active[0].get('id')}"))


def convert_rsvqa(questions: list[dict], answers: list[dict], images: list[dict], *,
                  training: bool, image_ext: str = ".tif", id_prefix: str = "rsvqa",
                  source: str = "<rsvqa>") -> tuple[list[dict], Counter]:
    """Records for every active question of an active image, in question-file order.

    Returns (records, skipped): inactive entries are counted, never silent. A question whose
    image id is unknown, or that has no active answer, raises SampleError naming `source`
    and the question id. Train records are InternVL conversations, test records evaluation.md
    §3.1 dicts (`image` relative to the image folder).
    """
    answer_by_id = {a["id"]: a for a in answers}
    image_active = {i["id"]: i.get("active", True) for i in images}
    skipped = Counter({"inactive answers": sum(not a.get("active", True) for a in answers),
                       "inactive images": sum(not v for v in image_active.values())})
    records, seen = [], set()
    for k, q in enumerate(tqdm(questions, desc="rsvqa", unit="q", leave=False)):
        qid = _field(q, "id", source, f"question #{k}")
        if qid in seen:
            raise SampleError(source, None, f"question {qid}: duplicate id")
        seen.add(qid)
        if not q.get("active", True):
            skipped["inactive questions"] += 1
            continue
        img_id = _field(q, "img_id", source, f"question {qid}")
        if img_id not in image_active:
            raise SampleError(source, None, f"question {qid}: unknown image id {img_id}")
        if not image_active[img_id]:
            skipped["questions on inactive images"] += 1
            continue
        question = _field(q, "question", source, f"question {qid}")
        answer = _rsvqa_answer(q, answer_by_id, source)
        image = f"{img_id}{image_ext}"
        if training:
            records.append({"id": f"{id_prefix}_{qid}", "image": image, "conversations": [
                {"from": "human", "value": f"{IMAGE_TAG}\n{question}{RSVQA_SUFFIX}"},
                {"from": "gpt", "value": answer}]})
        else:
            records.append({"id": int(qid), "image": image, "question": question,
                            "gt_answer": answer, "type": _field(q, "type", source,
                                                                f"question {qid}")})
    return records, +skipped  # unary + drops zero counts


def _read_rsvqa_json(path: Path, key: str) -> list[dict]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))[key]
    except FileNotFoundError:
        raise SampleError(str(path), None, "file not found") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SampleError(str(path), None, f"not an RSVQA {key} file: {exc!r}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "id" in r for r in rows):
        raise SampleError(str(path), None, f"{key!r} must be a list of objects with an 'id'")
    return rows


def _check_rsvqa_images(records: list[dict], image_dir: Path, source: str) -> None:
    for name in sorted({r["image"] for r in records}):
        if not (image_dir / name).is_file():
            raise SampleError(source, None, f"image {name} not found in {image_dir}")


def prepare_rsvqa(raw_dir: str | Path, variant: str, split: str, out: str | Path, *,
                  image_dir: str | Path | None = None, image_ext: str = ".tif",
                  check_images: bool = True) -> tuple[int, Counter]:
    """Convert one RSVQA split: train -> JSONL, test / test_phili -> evaluation JSON list.

    Files: RAW_DIR/{LR,USGS}_split_<split>_{questions,answers,images}.json; images are
    checked to exist in `image_dir` (default RAW_DIR/Images_LR or RAW_DIR/Data).
    Returns (records written, skipped counts).
    """
    if variant not in RSVQA_FILES:
        raise ValueError(f"variant must be one of {sorted(RSVQA_FILES)}, got {variant!r}")
    if split not in RSVQA_SPLITS[variant]:
        raise ValueError(f"{variant} splits are {RSVQA_SPLITS[variant]}, got {split!r}")
    pattern, folder = RSVQA_FILES[variant]
    prefix = Path(raw_dir) / pattern.format(split=split)
    parts = {key: _read_rsvqa_json(prefix.with_name(f"{prefix.name}_{key}.json"), key)
             for key in ("questions", "answers", "images")}
    source = f"{prefix}_questions.json"
    records, skipped = convert_rsvqa(parts["questions"], parts["answers"], parts["images"],
                                     training=split == "train", image_ext=image_ext,
                                     id_prefix=f"rsvqa_{variant}", source=source)
    if check_images:
        _check_rsvqa_images(records, Path(image_dir or Path(raw_dir) / folder), source)
    (write_jsonl if split == "train" else write_json)(out, records)
    return len(records), skipped


def _text(node: ET.Element, path: str, source: str, where: str) -> str:
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        raise SampleError(source, None, f"{where}: missing <{path}>")
    return found.text.strip()


def _int(node: ET.Element, path: str, source: str, where: str) -> int:
    text = _text(node, path, source, where)
    try:
        value = float(text)
    except ValueError:
        raise SampleError(source, None, f"{where}: <{path}> is not a number: {text!r}") from None
    if not value.is_integer():  # VOC pixel coordinates are integers; never round silently
        raise SampleError(source, None, f"{where}: <{path}> is not an integer: {text!r}")
    return int(value)


def parse_dior_annotation(xml_path: str | Path) -> tuple[list[int], list[tuple[str, list[int]]]]:
    """([W, H], [(description, [x1, y1, x2, y2] pixels) per object]) of one VOC file.

    Errors name the file and the object index: malformed XML, missing fields, non-integer
    coordinates, boxes outside the image or with x2 <= x1 / y2 <= y1.
    """
    source = str(xml_path)
    try:
        root = ET.parse(xml_path).getroot()
    except FileNotFoundError:
        raise SampleError(source, None, "annotation file not found") from None
    except ET.ParseError as exc:
        raise SampleError(source, None, f"malformed XML: {exc}") from None
    size = [_int(root, "size/width", source, "image"), _int(root, "size/height", source, "image")]
    objects = []
    for k, obj in enumerate(root.findall("object")):
        where = f"object {k}"
        box = [_int(obj, f"bndbox/{t}", source, where) for t in ("xmin", "ymin", "xmax", "ymax")]
        if not (0 <= box[0] < box[2] <= size[0] and 0 <= box[1] < box[3] <= size[1]):
            raise SampleError(source, None, f"{where}: box {box} invalid for image {size} "
                                            "(needs 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H)")
        objects.append((_text(obj, "description", source, where), box))
    return size, objects


def dior_record(image: str, size: list[int], description: str, box: list[int], *,
                training: bool, record_id: str = "") -> dict:
    """One DIOR-RSVG object: a training conversation (0-1000 box) or an evaluation record."""
    ref = f"{REF_START}{description}{REF_END}"
    if not training:
        return {"image": image, "prompt": ref, "bbox": list(box), "size": list(size)}
    x1, y1, x2, y2 = normalize_box(box, size)
    return {"id": record_id, "image": image, "conversations": [
        {"from": "human", "value": f"{IMAGE_TAG}\nDetect {ref}"},  # evaluation.md §4.2
        {"from": "gpt", "value": f"{ref}{BOX_START}[[{x1}, {y1}, {x2}, {y2}]]{BOX_END}"}]}


def _split_lines(split_file: Path) -> list[tuple[int, str]]:
    if not split_file.is_file():
        raise SampleError(str(split_file), None, "split file not found")
    lines = split_file.read_text(encoding="utf-8").splitlines()
    return [(n, s.strip()) for n, s in enumerate(lines, 1) if s.strip()]


def detect_split_format(root: str | Path, split: str) -> str:
    """'stems' or 'objects': what ROOT/<split>.txt lists (module docstring)."""
    split_file = Path(root) / f"{split}.txt"
    lines = _split_lines(split_file)
    if all((Path(root) / "Annotations" / f"{s}.xml").is_file() for _, s in lines):
        return "stems"
    if all(s.isdigit() for _, s in lines):
        return "objects"
    n, line = next((n, s) for n, s in lines if not s.isdigit())
    raise SampleError(str(split_file), n, f"{line!r} is neither an image stem with an "
                      "Annotations/<stem>.xml nor an object index; check the root, or pass "
                      "--split-format stems|objects")


def _dior_selection(root: Path, split: str, split_format: str) -> list[tuple[str, list[int]]]:
    """[(stem, object indices within that file)] in output order."""
    split_file = root / f"{split}.txt"
    lines = _split_lines(split_file)
    if split_format == "stems":
        seen: dict[str, int] = {}
        for n, stem in lines:
            if stem in seen:
                raise SampleError(str(split_file), n, f"stem {stem} repeats line {seen[stem]}")
            if not (root / "Annotations" / f"{stem}.xml").is_file():
                raise SampleError(str(split_file), n, f"Annotations/{stem}.xml not found; if "
                                  f"{split}.txt lists object indices (the RSVG-pytorch "
                                  "release), pass --split-format objects")
            seen[stem] = n
        return [(stem, []) for stem in seen]  # [] = every object of the file
    try:
        wanted = {int(s): n for n, s in lines}
    except ValueError as exc:
        raise SampleError(str(split_file), None, f"object index expected: {exc}") from None
    selection, count = [], 0
    for xml in tqdm(sorted((root / "Annotations").glob("*.xml")), desc="dior count",
                    leave=False):
        n_objects = len(parse_dior_annotation(xml)[1])
        keep = [k for k in range(n_objects) if count + k in wanted]
        selection += [(xml.stem, keep)] if keep else []
        count += n_objects
    beyond = sorted(i for i in wanted if not 0 <= i < count)
    if beyond:
        raise SampleError(str(split_file), wanted[beyond[0]],
                          f"object index {beyond[0]} outside 0..{count - 1} (if {split}.txt "
                          "lists image stems, pass --split-format stems)")
    return selection


def _check_image_size(path: Path, size: list[int], source: str) -> None:
    try:
        with Image.open(path) as image:  # reads the header only
            actual = list(image.size)
    except FileNotFoundError:
        raise SampleError(source, None, f"image {path} not found") from None
    if actual != size:
        raise SampleError(source, None, f"<size> {size} differs from image {path}: {actual}")


def prepare_dior_rsvg(root: str | Path, split: str, out: str | Path, *,
                      split_format: str = "auto", image_prefix: str = "",
                      check_images: bool = True) -> int:
    """Convert one DIOR-RSVG split: train -> JSONL, val / test -> evaluation JSON list.

    One record per selected object, in annotation order. `image` = image_prefix +
    "JPEGImages/<stem>.jpg" (e.g. prefix "DIOR-RSVG/" to match InternVL's test file whose
    root is `images/`). With `check_images`, every image must exist and match its <size>.
    """
    if split_format not in DIOR_SPLIT_FORMATS:
        raise ValueError(f"split_format must be one of {DIOR_SPLIT_FORMATS}")
    root = Path(root)
    if split_format == "auto":
        split_format = detect_split_format(root, split)
    records = []
    for stem, keep in tqdm(_dior_selection(root, split, split_format), desc="dior-rsvg",
                           leave=False):
        xml = root / "Annotations" / f"{stem}.xml"
        size, objects = parse_dior_annotation(xml)
        if not objects:  # a listed image without referring expressions would vanish silently
            raise SampleError(str(xml), None, "no <object> to convert")
        if check_images:
            _check_image_size(root / "JPEGImages" / f"{stem}.jpg", size, str(xml))
        for k in keep or range(len(objects)):
            description, box = objects[k]
            records.append(dior_record(f"{image_prefix}JPEGImages/{stem}.jpg", size,
                                       description, box, training=split == "train",
                                       record_id=f"dior_{stem}_{k}"))
    (write_jsonl if split == "train" else write_json)(out, records)
    return len(records)
