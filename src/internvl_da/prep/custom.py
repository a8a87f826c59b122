"""Your own domain: a folder of images + a CSV or JSONL table -> InternVL train/test JSONL.

One task per table (`TASKS`); columns (CSV header, or JSONL keys) per task:
- vqa: image, question, answer
- caption: image, caption              (several rows of one image = several references)
- mcq: image, question, answer (a letter), choices: CSV columns A, B, ... ; JSONL `choices`
  as a list (letters A, B, ... in order) or an object {"A": ..., ...}
- grounding: image, phrase, box in pixels: CSV columns x1, y1, x2, y2; JSONL `box` [x1, y1, x2, y2]
Optional: `id` (unique), `split` (train | test; given for every row or none).

Prompts follow the paper's domains, built by their own modules: VQA = question + RSVQA's
short-answer suffix (eval/rsvqa.py, evaluation.md §3.2); MCQ = GMAI's VLMEvalKit prompt
(eval/gmai.build_prompt, §7.3), answered with the letter; grounding = DIOR-RSVG's
`Detect <ref>phrase</ref>` -> `<ref>phrase</ref><box>[[x1, y1, x2, y2]]</box>` in 0-1000
(prep/remote.dior_record, §4.2); caption = CAPTION_PROMPT.

Every row is checked (fields present, image inside the folder, exists and decodes, box inside the
image, choices well formed, answer among the choices); all problems are collected and raised
together as a TableError, each `file:line: reason [kind]` with a kind from PROBLEM_KINDS.
Split: the table's `split` column, else `split_images` (seeded, by image: no image on both sides).
Outputs: train.jsonl (InternVL conversations), test.jsonl (the same, plus the scorer's fields:
task, choices / references / bbox + size), meta.json (the domain as one meta entry).
"""

from __future__ import annotations

import csv
import hashlib
import json
import posixpath
import string
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from internvl_da.data.tokens import IMAGE_TAG
from internvl_da.eval import gmai
from internvl_da.eval.rsvqa import PROMPT_SUFFIX
from internvl_da.fileio import write_json, write_jsonl
from internvl_da.prep.remote import dior_record

TASKS = ("vqa", "caption", "mcq", "grounding")
REQUIRED = {"vqa": ("image", "question", "answer"), "caption": ("image", "caption"),
            "mcq": ("image", "question", "answer"), "grounding": ("image", "phrase")}
# InternVL's caption evaluation prompt (eval/caption/evaluate_caption.py) [verify]
CAPTION_PROMPT = "Provide a one-sentence caption for the provided image."
SPLITS = ("train", "test")
BOX_COLUMNS = ("x1", "y1", "x2", "y2")
PROBLEM_KINDS = ("bad-table", "bad-json", "missing-field", "bad-image-path", "image-missing",
                 "image-unreadable", "bad-box", "box-outside", "bad-choices", "bad-answer",
                 "bad-split", "partial-split", "split-conflict", "duplicate-id")
SHOWN = 20  # problems written into the error message (all are in `.problems`)


@dataclass(frozen=True)
class Problem:
    line: int | None  # 1-based line of the table (CSV: the row's last physical line)
    kind: str  # one of PROBLEM_KINDS
    reason: str


class TableError(ValueError):
    """Every problem of a table, each as `file:line: reason [kind]`."""

    def __init__(self, source: str | Path, problems: list[Problem]) -> None:
        self.source, self.problems = str(source), problems
        lines = [f"{self.source}{'' if p.line is None else f':{p.line}'}: {p.reason} [{p.kind}]"
                 for p in problems[:SHOWN]]
        more = len(problems) - SHOWN
        head = f"{len(problems)} problem(s) in the table" if len(problems) > 1 else lines.pop(0)
        super().__init__("\n".join([head, *lines] + ([f"... and {more} more"] if more > 0 else [])))

    @property
    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}


@dataclass
class Row:
    line: int
    image: str  # relative to the image folder, POSIX
    size: tuple[int, int]
    fields: dict
    split: str | None
    id: str


@dataclass
class Summary:
    out: str
    task: str
    train_rows: int
    test_items: int
    images: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (f"wrote {self.out}: {self.task}, {self.train_rows} training lines, "
                f"{self.test_items} test items ({self.images['train']} train / "
                f"{self.images['test']} test images)")


def read_table(path: Path) -> tuple[list[tuple[int, dict]], list[Problem]]:
    """(line, raw row) of a .csv (header row) or .jsonl table, and the problems found reading."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: table not found")
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = []
            for row in reader:
                if None in row:
                    return rows, [Problem(reader.line_num, "bad-table",
                                          f"{len(row) - 1 + len(row[None])} values for "
                                          f"{len(reader.fieldnames or [])} columns")]
                rows.append((reader.line_num, row))
            return rows, []
    if path.suffix.lower() != ".jsonl":
        raise ValueError(f"{path}: a table is a .csv or a .jsonl file")
    rows, problems = [], []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(Problem(number, "bad-json", f"invalid JSON: {exc.msg}"))
            continue
        if not isinstance(row, dict):
            problems.append(Problem(number, "bad-json",
                                    f"expected a JSON object, found {type(row).__name__}"))
            continue
        rows.append((number, row))
    return rows, problems


def _text(row: dict, key: str) -> str | None:
    value = row.get(key)
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = str(value).strip()
    return text or None


def _choices(row: dict) -> dict[str, str] | str:
    """{letter: text}, or the reason they are malformed."""
    given = row.get("choices")
    if isinstance(given, list):
        given = dict(zip(string.ascii_uppercase, given, strict=False))
    elif given is None:
        given = {k: v for k, v in row.items() if len(k) == 1 and k in string.ascii_uppercase
                 and _text(row, k) is not None}
    if not isinstance(given, dict):
        return "`choices` must be a list or an object of letter -> text"
    choices = {k: _text(given, k) for k in sorted(given)}
    letters = list(choices)
    if len(letters) < 2:
        return f"needs at least two choices, found {len(letters)}"
    if letters != list(string.ascii_uppercase[:len(letters)]):
        return f"choices must be the letters A, B, ... without gaps, found {letters}"
    empty = [k for k, v in choices.items() if v is None]
    if empty:
        return f"choice {empty[0]} is empty or not text"
    na = [k for k, v in choices.items() if v in gmai.PANDAS_NA]
    if na:  # VLMEvalKit drops such options (pandas reads them as NaN): the prompt would lose it
        return f"choice {na[0]} is {choices[na[0]]!r}, which GMAI's prompt builder drops as NaN"
    texts = [v.lower() for v in choices.values()]
    if len(set(texts)) != len(texts):
        return "two choices have the same text"
    return choices


def _box(row: dict) -> list[float] | str:
    values = row.get("box") if "box" in row else [row.get(k) for k in BOX_COLUMNS]
    if not isinstance(values, list) or len(values) != 4:
        return f"box must be 4 numbers x1, y1, x2, y2 in pixels, found {values!r:.60}"
    try:
        box = [float(v) for v in values if not isinstance(v, bool)]
    except (TypeError, ValueError):
        return f"box values must be numbers, found {values!r:.60}"
    if len(box) != 4:
        return f"box values must be numbers, found {values!r:.60}"
    if not (box[0] < box[2] and box[1] < box[3]):
        return f"box {values} needs x1 < x2 and y1 < y2"
    return box


def _task_fields(task: str, row: dict) -> dict | tuple[str, str]:
    """The task's checked fields, or (kind, reason)."""
    missing = [k for k in REQUIRED[task] if _text(row, k) is None]
    if missing:
        return "missing-field", f"field {missing[0]!r} is missing or empty"
    out = {k: _text(row, k) for k in REQUIRED[task] if k != "image"}
    if task == "mcq":
        choices = _choices(row)
        if isinstance(choices, str):
            return "bad-choices", choices
        if out["answer"] not in choices:
            return "bad-answer", (f"answer {out['answer']!r} is not one of the choice letters "
                                  f"{''.join(choices)}")
        out["choices"] = choices
    if task == "grounding":
        box = _box(row)
        if isinstance(box, str):
            return "bad-box", box
        out["box"] = box
    return out


class _Images:
    """Image checks, once per file: the path stays inside the folder, exists and decodes."""

    def __init__(self, root: Path) -> None:
        self.root, self.sizes = root, {}

    def check(self, name: str) -> tuple[str, tuple[int, int]] | tuple[str, str]:
        """(relative path, (W, H)) or (kind, reason)."""
        rel = posixpath.normpath(name.replace("\\", "/"))
        if posixpath.isabs(rel) or rel == ".." or rel.startswith("../"):
            return "bad-image-path", f"image {name!r} must be a path inside {self.root}"
        if rel not in self.sizes:
            path = self.root / rel
            if not path.is_file():
                self.sizes[rel] = ("image-missing", f"image {path} not found")
            else:
                try:
                    with Image.open(path) as image:
                        image.load()
                        self.sizes[rel] = image.size
                except (OSError, ValueError, Image.DecompressionBombError) as exc:
                    self.sizes[rel] = ("image-unreadable", f"image {path} does not decode: {exc}")
        found = self.sizes[rel]
        return (rel, found) if isinstance(found[0], int) else found


def validate_rows(task: str, raw: list[tuple[int, dict]], images: Path) -> tuple[list[Row],
                                                                                 list[Problem]]:
    """Rows that pass every check, and a Problem for each row that does not."""
    rows, problems, seen = [], [], {}
    checker = _Images(images)
    for line, row in raw:
        fields = _task_fields(task, row)
        if isinstance(fields, tuple):
            problems.append(Problem(line, *fields))
            continue
        checked = checker.check(_text(row, "image"))
        if isinstance(checked[1], str):
            problems.append(Problem(line, *checked))
            continue
        rel, (width, height) = checked
        if task == "grounding" and not _inside(fields["box"], width, height):
            problems.append(Problem(line, "box-outside", f"box {fields['box']} is not inside "
                                    f"the image {rel} of {width}x{height} pixels"))
            continue
        split = _text(row, "split")
        if split is not None and split not in SPLITS:
            problems.append(Problem(line, "bad-split", f"split {split!r} is not train or test"))
            continue
        row_id = _text(row, "id") or f"line{line}"
        if row_id in seen:
            problems.append(Problem(line, "duplicate-id", f"id {row_id!r} is also on line "
                                    f"{seen[row_id]}"))
            continue
        seen[row_id] = line
        rows.append(Row(line, rel, (width, height), fields, split, row_id))
    return rows, problems


def _inside(box: list[float], width: int, height: int) -> bool:
    x1, y1, x2, y2 = box
    return min(x1, y1) >= 0 and x2 <= width and y2 <= height


def split_images(images: list[str], test_fraction: float, seed: int) -> set[str]:
    """The test images: the round(n x test_fraction) images (at least 1, at most n - 1 when
    n >= 2) first in sha256(seed:image) order. Independent of row order; by image, so no image
    is on both sides."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    unique = sorted(set(images), key=lambda im: hashlib.sha256(f"{seed}:{im}".encode()).digest())
    count = round(len(unique) * test_fraction)
    if len(unique) >= 2:
        count = min(max(count, 1), len(unique) - 1)
    return set(unique[:count])


def assign_splits(rows: list[Row], test_fraction: float, seed: int) -> list[Problem]:
    """Set each row's split (the table's, else `split_images`); problems if the table's split
    is partial or puts an image on both sides."""
    given = [r for r in rows if r.split is not None]
    if given and len(given) < len(rows):
        first = next(r for r in rows if r.split is None)
        return [Problem(first.line, "partial-split", "the table gives `split` for some rows "
                        "only: give it for every row or for none")]
    if given:
        sides: dict[str, Row] = {}
        problems = []
        for row in rows:
            other = sides.setdefault(row.image, row)
            if other.split != row.split:
                problems.append(Problem(row.line, "split-conflict", f"image {row.image} is in "
                                        f"{row.split} here and in {other.split} on line "
                                        f"{other.line}: an image belongs to one side"))
        return problems
    test = split_images([r.image for r in rows], test_fraction, seed)
    for row in rows:
        row.split = "test" if row.image in test else "train"
    return []


def prompt(task: str, fields: dict) -> str:
    """The question as asked, in the paper domains' convention for the task."""
    if task == "vqa":
        return fields["question"] + PROMPT_SUFFIX
    if task == "mcq":
        return gmai.build_prompt({"question": fields["question"], **fields["choices"]})
    if task == "caption":
        return CAPTION_PROMPT
    raise ValueError(f"task {task!r} has no text prompt (grounding: dior_record)")


def conversation(task: str, row: Row, name: str) -> dict:
    """One InternVL training line."""
    record_id = f"{name}_{row.id}"
    if task == "grounding":
        return dior_record(row.image, list(row.size), row.fields["phrase"],
                           _pixels(row.fields["box"]), training=True, record_id=record_id)
    answer = row.fields["caption"] if task == "caption" else row.fields["answer"]
    return {"id": record_id, "image": row.image, "conversations": [
        {"from": "human", "value": f"{IMAGE_TAG}\n{prompt(task, row.fields)}"},
        {"from": "gpt", "value": answer}]}


def _pixels(box: list[float]) -> list[int | float]:
    return [int(v) if float(v).is_integer() else v for v in box]


def evaluation_records(task: str, rows: list[Row], name: str) -> list[dict]:
    """Evaluation items: the training line plus the scorer's fields. Captions: one item per
    image, every caption of that image a reference (COCO-style)."""
    if task != "caption":
        out = []
        for row in rows:
            extra = {"choices": row.fields["choices"]} if task == "mcq" else \
                {"bbox": _pixels(row.fields["box"]), "size": list(row.size)} \
                if task == "grounding" else {}
            out.append({**conversation(task, row, name), "task": task, **extra})
        return out
    by_image: dict[str, list[Row]] = {}
    for row in rows:
        by_image.setdefault(row.image, []).append(row)
    return [{**conversation(task, group[0], name), "task": task,
             "references": [r.fields["caption"] for r in group]} for group in by_image.values()]


def prepare_custom(table: str | Path, images: str | Path, task: str, out: str | Path, *,
                   name: str = "custom", test_fraction: float = 0.2, seed: int = 42) -> Summary:
    """Check the table and write out/{train,test}.jsonl and out/meta.json (one entry, `name`)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    table, images, out = Path(table), Path(images), Path(out)
    if not images.is_dir():
        raise FileNotFoundError(f"{images}: image folder not found")
    raw, problems = read_table(table)
    rows, row_problems = validate_rows(task, raw, images)
    problems += row_problems
    if not problems:
        problems = assign_splits(rows, test_fraction, seed)
    if not problems and not raw:
        problems = [Problem(None, "bad-table", "the table has no rows")]
    if problems:
        raise TableError(table, sorted(problems, key=lambda p: p.line or 0))
    train = [r for r in rows if r.split == "train"]
    test = [r for r in rows if r.split == "test"]
    for side, chosen in (("train", train), ("test", test)):
        if not chosen:
            raise TableError(table, [Problem(None, "bad-table", f"no {side} rows: the {side} "
                                             "side needs at least one image")])
    write_jsonl(out / "train.jsonl", [conversation(task, r, name) for r in train])
    tests = evaluation_records(task, test, name)
    write_jsonl(out / "test.jsonl", tests)
    write_json(out / "meta.json", {name: {"root": images.as_posix(),
                                          "annotation": (out / "train.jsonl").as_posix(),
                                          "data_augment": False, "repeat_time": 1}}, indent=2)
    return Summary(str(out), task, len(train), len(tests),
                   {"train": len({r.image for r in train}), "test": len({r.image for r in test})})
