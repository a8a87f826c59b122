"""DriveLM-nuScenes v1.1 val: inference on the stitched frames and the challenge submission.

Data: the converted val JSONL (`prep drivelm --split val`): human turn as fed to the model,
`question_old`, stitched image (evaluation.md §6.1). Generation: `--dynamic --max-num 12`
(13 tiles), greedy, max_new_tokens 200. Post-processing: object tags are back-projected from
the 0-1000 stitched canvas to camera pixels, always with one decimal (fixed mode; the
reference printed clamped values as integers, which DriveLM's regex ignores); tags left
unconverted are counted. Output: DriveLM's `output.json` list `{question, answer, gt_answers,
id}` for the challenge server (the val ground truth is not public; paper numbers come from the
server). The challenge scorer itself (accuracy, match, language metrics, GPT judge) is not
implemented yet: `score` reports only the sample count and unconverted tags.
Paper (Table 4, official server): DA-1B Acc 0.7007, Final 0.5686; DA-2B Acc 0.7628, Final 0.5958;
DA-4B Acc 0.7296, Final 0.5821.
"""

from __future__ import annotations

import json
from pathlib import Path

from internvl_da.data.coords import denormalize_tags
from internvl_da.fileio import write_json


def load(annotation: Path, image_root: Path) -> list[dict]:
    items = []
    for line in annotation.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        turns = row["conversations"]
        items.append({"id": row["id"], "question": turns[0]["value"].strip(),
                      "question_old": row.get("question_old", turns[0]["value"]),
                      "image": str(image_root / row["image"]),
                      "answer": turns[1]["value"] if len(turns) > 1 else ""})
    return items


def finalize(record: dict) -> dict:
    """Back-project the prediction's tags (fixed mode); keep the raw text and the count."""
    text, unconverted = denormalize_tags(record["prediction"], mode="fixed")
    return {**record, "raw_prediction": record["prediction"], "prediction": text,
            "unconverted_tags": unconverted}


def score(records: list[dict]) -> dict:
    return {"samples": len(records),
            "unconverted_tags": sum(r.get("unconverted_tags", 0) for r in records),
            "note": "DriveLM challenge metrics not computed here yet; submit output.json"}


def write_submission(records: list[dict], out: Path) -> None:
    """DriveLM's output.json: the list its evaluation and the challenge server read."""
    write_json(out / "output.json", [{"question": r["question_old"], "answer": r["prediction"],
                                      "gt_answers": r["answer"], "id": r["id"]}
                                     for r in records])
