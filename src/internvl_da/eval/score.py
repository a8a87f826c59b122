"""Re-score a predictions file on CPU: `internvl-da score BENCH FILE [--details OUT]`.

Most benchmarks score each record on its own (FIELDS, judge, score). DriveLM's scorer needs
the whole ground-truth file and optionally an LLM judge, so it has its own file scorer that
takes those options (`--gt`, judge settings) and also reads DriveLM's output.json.

Every file is checked first (issue 11 item 4): an id twice is an error naming the file and
both lines (20 duplicates moved RSVQA-LR Avg from 0.4409 to 0.5229), and a file without a
single prediction is an error, never `"overall": 0.0`.
"""

from __future__ import annotations

import json
from pathlib import Path

from internvl_da.data.errors import SampleError
from internvl_da.eval import (
    custom_caption,
    custom_grounding,
    custom_mcq,
    custom_vqa,
    dior_rsvg,
    drivelm,
    gmai,
    mme_realworld,
    rsvqa,
)
from internvl_da.eval.drivelm_challenge import _json_rows
from internvl_da.fileio import read_jsonl_objects, write_jsonl

# Benchmark name -> its module (FIELDS, judge, score).
MODULES = {"rsvqa-lr": rsvqa, "rsvqa-hr-test1": rsvqa, "rsvqa-hr-test2": rsvqa,
           "dior-rsvg": dior_rsvg, "mme-realworld": mme_realworld, "gmai": gmai,
           "custom-vqa": custom_vqa, "custom-caption": custom_caption, "custom-mcq": custom_mcq,
           "custom-grounding": custom_grounding}
# Benchmark name -> score_file(path, details, **options) for scorers that need more than records.
FILE_SCORERS = {"drivelm": drivelm.score_file}


def check_unique(path: str | Path, located: list[tuple[str, object]],
                 rows: int | None = None) -> None:
    """(where, id) pairs in file order: none may repeat; the file holds at least one row
    (`rows`, default len(located))."""
    if not (len(located) if rows is None else rows):
        raise SampleError(str(path), None, "no predictions (empty file): nothing to score")
    first: dict = {}
    for where, key in located:
        if key in first:
            raise SampleError(str(path), None, f"id {key!r} appears twice ({first[key]} and "
                              f"{where}): each sample must be scored once")
        first[key] = where


def read_predictions(path: str | Path, fields: dict) -> list[dict]:
    """Records of a predictions JSONL; a missing field, a wrong type or a repeated id is an
    error at its line; an empty file is an error."""
    records, located = [], []
    for number, record in read_jsonl_objects(path):
        for key, kind in {"id": (str, int), **fields}.items():
            if key not in record:
                raise ValueError(f"{path}:{number}: missing field {key!r}")
            if not isinstance(record[key], kind):
                raise ValueError(f"{path}:{number}: field {key!r} has type "
                                 f"{type(record[key]).__name__}")
        records.append(record)
        located.append((f"line {number}", record["id"]))
    check_unique(path, located)
    return records


def check_drivelm_file(path: str | Path) -> None:
    """`check_unique` on DriveLM's three prediction formats (drivelm_challenge.read_predictions):
    output.json / submission `results` by record, predictions.jsonl by line. Rows without a
    string id are left to that reader, which names them."""
    text = Path(path).read_text(encoding="utf-8")
    rows = _json_rows(Path(path), text)
    if rows is None:
        rows, places = [], []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
                places.append(f"line {number}")
    else:
        places = [f"record {k}" for k in range(1, len(rows) + 1)]
    located = [(where, row["id"]) for where, row in zip(places, rows, strict=True)
               if isinstance(row, dict) and isinstance(row.get("id"), str)]
    check_unique(path, located, rows=len(rows))


# Options a benchmark module's judge/score accept (MME-RealWorld: which answer extractor).
MODULE_OPTIONS = {"mme-realworld": {"extractor"}, "gmai": {"llm"},
                  "custom-grounding": {"iou"}}


def score_file(bench: str, path: str | Path, details: str | Path | None = None,
               **options) -> dict:
    """Metrics of one predictions file; `options` (gt, judge) only for FILE_SCORERS."""
    if bench in FILE_SCORERS:
        check_drivelm_file(path)
        return FILE_SCORERS[bench](path, details, **options)
    if bench not in MODULES:
        raise ValueError(f"unknown benchmark {bench!r}; "
                         f"choose from {sorted([*MODULES, *FILE_SCORERS])}")
    given = {k: v for k, v in options.items() if v is not None}
    allowed = MODULE_OPTIONS.get(bench, set())
    if set(given) - allowed:
        raise ValueError(f"options {sorted(set(given) - allowed)} do not apply to {bench!r}")
    module = MODULES[bench]
    records = read_predictions(path, module.FIELDS)
    if details and hasattr(module, "details"):  # metrics over the whole file (captions)
        write_jsonl(details, module.details(records, **given))
    elif details:
        write_jsonl(details, ({"id": r["id"], **module.judge(r, **given)} for r in records))
    return module.score(records, **given)
