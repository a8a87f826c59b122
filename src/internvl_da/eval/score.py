"""Re-score a predictions file on CPU: `internvl-da score BENCH FILE [--details OUT]`.

Most benchmarks score each record on its own (FIELDS, judge, score). DriveLM's scorer needs
the whole ground-truth file and optionally an LLM judge, so it has its own file scorer that
takes those options (`--gt`, judge settings) and also reads DriveLM's output.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from internvl_da.eval import dior_rsvg, drivelm, gmai, mme_realworld, rsvqa
from internvl_da.fileio import write_jsonl

# Benchmark name -> its module (FIELDS, judge, score).
MODULES = {"rsvqa-lr": rsvqa, "rsvqa-hr-test1": rsvqa, "rsvqa-hr-test2": rsvqa,
           "dior-rsvg": dior_rsvg, "mme-realworld": mme_realworld, "gmai": gmai}
# Benchmark name -> score_file(path, details, **options) for scorers that need more than records.
FILE_SCORERS = {"drivelm": drivelm.score_file}


def read_predictions(path: str | Path, fields: dict) -> list[dict]:
    """Records of a predictions JSONL; a missing field or wrong type is an error at its line."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
        for key, kind in fields.items():
            if key not in record:
                raise ValueError(f"{path}:{number}: missing field {key!r}")
            if not isinstance(record[key], kind):
                raise ValueError(f"{path}:{number}: field {key!r} has type "
                                 f"{type(record[key]).__name__}")
        records.append(record)
    return records


# Options a benchmark module's judge/score accept (MME-RealWorld: which answer extractor).
MODULE_OPTIONS = {"mme-realworld": {"extractor"}, "gmai": {"llm"}}


def score_file(bench: str, path: str | Path, details: str | Path | None = None,
               **options) -> dict:
    """Metrics of one predictions file; `options` (gt, judge) only for FILE_SCORERS."""
    if bench in FILE_SCORERS:
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
    if details:
        write_jsonl(details, ({"id": r["id"], **module.judge(r, **given)} for r in records))
    return module.score(records, **given)
