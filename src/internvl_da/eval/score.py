"""Re-score a predictions file on CPU: `internvl-da score BENCH FILE [--details OUT]`."""

from __future__ import annotations

import json
from pathlib import Path

from internvl_da.eval import dior_rsvg, gmai, mme_realworld, rsvqa
from internvl_da.fileio import write_jsonl

# Benchmark name -> its module (FIELDS, judge, score).
MODULES = {"rsvqa-lr": rsvqa, "rsvqa-hr-test1": rsvqa, "rsvqa-hr-test2": rsvqa,
           "dior-rsvg": dior_rsvg, "mme-realworld": mme_realworld, "gmai": gmai}


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


def score_file(bench: str, path: str | Path, details: str | Path | None = None) -> dict:
    if bench not in MODULES:
        raise ValueError(f"unknown benchmark {bench!r}; choose from {sorted(MODULES)}")
    module = MODULES[bench]
    records = read_predictions(path, module.FIELDS)
    if details:
        write_jsonl(details, ({"id": r["id"], **module.judge(r)} for r in records))
    return module.score(records)
