"""Your own domain, task `mcq`: GMAI-MMBench's prompt and matching (eval/gmai.py, §7.3-§7.5).

Prompt: question, then 'L. text' per choice, then "Answer with the option's letter from the
given choices directly." (gmai.build_prompt). Matching: VLMEvalKit's `can_infer` with exact
matching, as gmai.judge: a prediction no rule maps to a choice is 'Z' (wrong).
Metric: `accuracy` = share of items whose inferred letter is the answer letter.
"""

from __future__ import annotations

from internvl_da.eval import gmai

FIELDS = {"id": (int, str), "prediction": (str, type(None)), "answer": str, "choices": dict}


def judge(record: dict) -> dict:
    """{correct, pred}: the letter GMAI's matching infers ('Z' when none)."""
    return gmai.judge(record)


def score(records: list[dict]) -> dict:
    correct = sum(judge(r)["correct"] for r in records)
    total = len(records)
    return {"task": "mcq", "accuracy": round(correct / total, 4) if total else None,
            "correct": correct, "total": total}
