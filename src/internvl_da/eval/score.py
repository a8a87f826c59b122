"""Re-score a predictions file on CPU: `internvl-da score BENCH FILE [--details OUT]`."""

from __future__ import annotations

import json
from pathlib import Path

from internvl_da.eval import dior_rsvg, gmai, mme_realworld, rsvqa
from internvl_da.fileio import write_jsonl

# Fields every record needs, per benchmark family, with their types.
REQUIRED = {"rsvqa": {"id": (int, str), "prediction": (str, type(None)), "answer": str,
                      "type": str},
            "dior-rsvg": {"id": (int, str), "prediction": (str, type(None)), "answer": list,
                          "image_size": list},
            "mme-realworld": {"id": (int, str), "prediction": (str, type(None)), "answer": str,
                              "choices": list, "task": str, "category": str},
            "gmai": {"id": (int, str), "prediction": (str, type(None)), "answer": str,
                     "choices": dict}}
FAMILY = {"rsvqa-lr": "rsvqa", "rsvqa-hr-test1": "rsvqa", "rsvqa-hr-test2": "rsvqa",
          "dior-rsvg": "dior-rsvg", "mme-realworld": "mme-realworld", "gmai": "gmai"}


def read_predictions(path: str | Path, family: str) -> list[dict]:
    """Records of a predictions JSONL; a missing field or wrong type is an error at its line."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
        for key, kind in REQUIRED[family].items():
            if key not in record:
                raise ValueError(f"{path}:{number}: missing field {key!r}")
            if not isinstance(record[key], kind):
                raise ValueError(f"{path}:{number}: field {key!r} has type "
                                 f"{type(record[key]).__name__}")
        records.append(record)
    return records


def score_file(bench: str, path: str | Path, details: str | Path | None = None) -> dict:
    if bench not in FAMILY:
        raise ValueError(f"unknown benchmark {bench!r}; choose from {sorted(FAMILY)}")
    family = FAMILY[bench]
    records = read_predictions(path, family)
    if family == "rsvqa":
        per_item = [{"id": r["id"], "correct": rsvqa.is_correct(r["prediction"], r["answer"],
                                                                  r["type"])} for r in records]
        metrics = rsvqa.score(records)
    elif family == "gmai":
        per_item = []
        for r in records:
            letter = gmai.can_infer(r["prediction"], r["choices"])
            per_item.append({"id": r["id"], "correct": letter == r["answer"], "pred": letter})
        metrics = gmai.score(records)
    elif family == "mme-realworld":
        per_item = []
        for r in records:
            letter = mme_realworld.post_process(r["prediction"] or "", r["choices"])
            per_item.append({"id": r["id"], "correct": letter == r["answer"], "pred": letter})
        metrics = mme_realworld.score(records)
    else:
        per_item = [{"id": r["id"], **dior_rsvg.judge(r)} for r in records]
        metrics = dior_rsvg.score(records)
    if details:
        write_jsonl(details, per_item)
    return metrics
