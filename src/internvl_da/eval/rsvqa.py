"""RSVQA-LR / HR scoring exactly as the reference `eval/domain_specific/rs_vqa/score.py`.

Data: the released `val/rsvqa_{l_test,h_test_1,h_test_2}_instruct.json` (or the project's
conversion, same format): a JSON list `{id, image, question, gt_answer, type}` (evaluation.md
§3.1); `id` must pass int() as in the reference.
Prompt: question + "\\nAnswer the question using a single word or phrase."; max_new_tokens 50.
Metric (§3.4): count/area items are right when prediction and truth fall in the same bucket
{0}, (0, 100], (100, 1000], > 1000 (a negative number is in none, so never right; area truth
stripped with rstrip('m2'), a character-set strip: a quirk kept on purpose); every other type
is right when the non-empty response equals the truth case-insensitively (no punctuation or
whitespace cleanup). The paper's Avg. is the
question-weighted accuracy over the types other than count and area.
Paper (Table 11, DA-1B): LR Avg. 87.37.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from internvl_da.eval.records import need, read_json_list

PROMPT_SUFFIX = "\nAnswer the question using a single word or phrase."
NUMERIC_TYPES = ("count", "area")

# Fields a predictions record needs (checked by `internvl-da score`).
FIELDS = {"id": (int, str), "prediction": (str, type(None)), "answer": str, "type": str}


def _bucket(value: int) -> int | None:
    """The reference's four ranges; a negative value is in none of them (None)."""
    if value < 0:
        return None
    return 0 if value == 0 else 1 if value <= 100 else 2 if value <= 1000 else 3


def is_correct(prediction: str | None, answer: str, qtype: str) -> bool:
    """One item, reference rules (including Python int() parsing)."""
    if qtype in NUMERIC_TYPES:
        try:
            pred = 0 if prediction is None else int(prediction)
            truth = int(answer.rstrip("m2") if qtype == "area" else answer)
        except ValueError:
            return False
        return _bucket(pred) is not None and _bucket(pred) == _bucket(truth)
    return bool(prediction) and prediction.lower() == answer.lower()


def judge(record: dict) -> dict:
    """{correct} of one prediction record."""
    return {"correct": is_correct(record["prediction"], record["answer"], record["type"])}


def score(records: list[dict]) -> dict:
    """`per_type`, `counts`, `overall` and `avg` (the paper's Avg.), each rounded to 4 places."""
    right, total = Counter(), Counter()
    for r in records:
        total[r["type"]] += 1
        right[r["type"]] += judge(r)["correct"]
    useful = [t for t in total if t not in NUMERIC_TYPES]
    n_useful = sum(total[t] for t in useful)
    return {
        "per_type": {t: round(right[t] / total[t], 4) for t in sorted(total)},
        "counts": dict(sorted(total.items())),
        "overall": round(sum(right.values()) / max(sum(total.values()), 1), 4),
        "avg": round(sum(right[t] for t in useful) / n_useful, 4) if n_useful else None,
    }


def load(annotation: Path, image_root: Path) -> list[dict]:
    """Items {id, question (as asked), image, answer, type} from the evaluation JSON list.

    `gt_answer` may be a JSON number (counts); it is kept as its text, which int() reads back."""
    items = []
    for where, r in read_json_list(annotation):
        raw_id = need(r, "id", (int, str), where)
        try:
            item_id = int(raw_id)
        except ValueError:
            raise ValueError(f"{where}: id {raw_id!r} is not an integer (the reference "
                             "takes int(id))") from None
        answer = need(r, "gt_answer", (str, int), where)
        items.append({"id": item_id, "question": need(r, "question", str, where) + PROMPT_SUFFIX,
                      "image": str(image_root / need(r, "image", str, where)),
                      "answer": str(answer), "type": need(r, "type", str, where)})
    return items
