"""DriveLM-nuScenes v1.1 val: inference on the stitched frames, the submission, the scorer.

Data: the released `val/drivelm_val.jsonl` (images `images/drivelm/stitch/`), or the project's
conversion (`prep drivelm --split val`), same format: `{id, image, conversations: [human turn
as fed to the model, gpt turn (answer or placeholder)], question_old}` (evaluation.md §6.1);
the conversion adds, when the source had answers, the original answer `answer_old` and the
DriveLM `tag` list the scorer needs (the release has neither: score it with `--gt`). Generation:
`--dynamic --max-num 12` (13 tiles), greedy, max_new_tokens 200. Post-processing: object tags
are back-projected from the 0-1000 stitched canvas to camera pixels, always with one decimal
(fixed mode; the reference printed clamped values as integers, which DriveLM's regex ignores);
tags left unconverted are counted. Output: DriveLM's `output.json` list `{question, answer,
gt_answers, id}` for the challenge server. Scoring: DriveLM's challenge evaluation
(drivelm_challenge.py) on the records' GT, or on a DriveLM QA JSON with `score drivelm --gt`;
the ChatGPT half needs a judge (judge.py), so offline `final` is null and the labelled
judge-free `partial` is reported.
Paper (Table 4, official server): DA-1B Acc 0.7007, Final 0.5686; DA-2B Acc 0.7628, Final 0.5958;
DA-4B Acc 0.7296, Final 0.5821.
"""

from __future__ import annotations

from pathlib import Path

from internvl_da.data.coords import denormalize_tags
from internvl_da.eval import drivelm_challenge as challenge
from internvl_da.eval.judge import Judge
from internvl_da.eval.records import need, read_jsonl
from internvl_da.fileio import write_json, write_jsonl
from internvl_da.prep.drivelm import check_tags

GT_FIELDS = ("question_old", "answer_old", "tag")  # what the scorer reads from a record


def _turn(turns: list, k: int, role: str, where: str) -> str:
    turn = turns[k]
    if not isinstance(turn, dict) or turn.get("from") != role:
        raise ValueError(f"{where}: conversations[{k}] must be a {role!r} turn")
    return need(turn, "value", str, f"{where}: conversations[{k}]")


def load(annotation: Path, image_root: Path) -> list[dict]:
    """Items as the reference `DriveLMDataset`: question = the human turn stripped, ground
    truth = the gpt turn stripped, `question_old` for DriveLM's output.json."""
    items = []
    for where, row in read_jsonl(annotation):
        turns = need(row, "conversations", list, where)
        if len(turns) < 2:
            raise ValueError(f"{where}: conversations needs the human and the gpt turn "
                             f"(found {len(turns)})")
        item = {"id": need(row, "id", str, where),
                "question": _turn(turns, 0, "human", where).strip(),
                "question_old": need(row, "question_old", str, where),
                "image": str(image_root / need(row, "image", str, where)),
                "answer": _turn(turns, 1, "gpt", where).strip()}
        items.append(item | {k: row[k] for k in ("answer_old", "tag") if k in row})
    return items


def finalize(record: dict) -> dict:
    """Back-project the prediction's tags (fixed mode); keep the raw text and the count."""
    text, unconverted = denormalize_tags(record["prediction"], mode="fixed")
    return {**record, "raw_prediction": record["prediction"], "prediction": text,
            "unconverted_tags": unconverted}


def gt_from_records(records: list[dict]) -> list[challenge.GTItem] | None:
    """Scorer GT carried by prediction records (prepared with answers and tags), else None."""
    if not records or any(k not in r for r in records for k in GT_FIELDS):
        return None
    return [challenge.GTItem(r["id"], r["id"].rsplit("_", 1)[0], r["question_old"],
                             r["answer_old"],
                             tuple(check_tags(r["tag"], f"record {r['id']}", "<records>")))
            for r in records]


def score(records: list[dict], judge: Judge | None = None) -> dict:
    """Challenge metrics on the GT the records carry; without it, counts and a note."""
    extra = {"samples": len(records),
             "unconverted_tags": sum(r.get("unconverted_tags", 0) for r in records)}
    items = gt_from_records(records)
    if items is None:
        return extra | {"note": "records carry no DriveLM answers/tags (the released "
                        "drivelm_val.jsonl has none; the val ground truth is not public): "
                        "submit output.json to the challenge server, or score against a "
                        "DriveLM QA JSON with answers and tags: `internvl-da score drivelm "
                        "PREDICTIONS --gt FILE`"}
    metrics, _ = challenge.evaluate(items, {r["id"]: r["prediction"] for r in records}, judge)
    return metrics | extra


def score_file(path: str | Path, details: str | Path | None = None,
               gt: str | Path | None = None, judge: Judge | None = None) -> dict:
    """Score predictions.jsonl or DriveLM's output.json against `gt` (a DriveLM QA JSON) or,
    without it, against the GT the JSONL records carry."""
    predictions, records = challenge.read_predictions(path)
    items = challenge.load_gt(gt) if gt else gt_from_records(records or [])
    if items is None:
        raise ValueError(f"{path}: the records carry no DriveLM answers and tags; "
                         "pass --gt FILE (the DriveLM QA JSON with answers and tags)")
    metrics, rows = challenge.evaluate(items, predictions, judge)
    if details:
        write_jsonl(details, rows)
    if records is not None:
        metrics["unconverted_tags"] = sum(r.get("unconverted_tags", 0) for r in records)
    return metrics


def write_submission(records: list[dict], out: Path) -> None:
    """DriveLM's output.json: the list its evaluation and the challenge server read."""
    write_json(out / "output.json", [{"question": r["question_old"], "answer": r["prediction"],
                                      "gt_answers": r["answer"], "id": r["id"]}
                                     for r in records])
