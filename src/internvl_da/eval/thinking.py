"""Thinking-mode accounting for the InternVL3.5 family (spec internvl35.md §9.2).

The DA benchmarks expect short direct answers and their scorers parse the raw response, so the
3.5 models run with thinking OFF (the template's system message, §4.3). Base 3.5 models may
still think (InternVL#1141), so for the templates of that family every benchmark's
metrics.json also records:
- `think_share` / `think_count`: the share and number of predictions holding `<think>` or
  `</think>` (on the raw text the model produced, before a benchmark's `finalize`);
- `split_think`: the benchmark's metrics after VLMEvalKit's SPLIT_THINK rule
  (`vlmeval/inference.py`, `infer_data_job`, env SPLIT_THINK): a prediction containing
  `</think>` becomes the text after the LAST `</think>`, stripped; any other prediction is
  kept as it is (not stripped).
InternVL2 templates get none of these keys: their metrics (and dvc.lock) are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# Templates of the families whose LLM has thinking mode (Qwen3: InternVL3.5).
THINKING_TEMPLATES = frozenset({"internvl2_5"})


def counts_thinking(template: str) -> bool:
    """Whether evaluation with `template` records the thinking keys."""
    return template in THINKING_TEMPLATES


def has_thought(text: str) -> bool:
    return THINK_OPEN in text or THINK_CLOSE in text


def split_think(text: str) -> str:
    """VLMEvalKit's SPLIT_THINK prediction: after the last `</think>`, stripped; else as is."""
    if THINK_CLOSE in text:
        return text.split(THINK_CLOSE)[-1].strip()
    return text


def raw_text(record: dict) -> str:
    """The model's text of a record: `raw_prediction` when a `finalize` rewrote it (DriveLM)."""
    return record.get("raw_prediction", record["prediction"])


def split_records(records: list[dict], finalize: Callable[[dict], dict] | None = None
                  ) -> list[dict]:
    """Records whose prediction is `split_think` of the raw text, re-finalized if needed."""
    out = []
    for record in records:
        new = {k: v for k, v in record.items() if k != "raw_prediction"}
        new["prediction"] = split_think(raw_text(record))
        out.append(finalize(new) if finalize is not None else new)
    return out


def thinking_metrics(records: list[dict], score: Callable[[list[dict]], dict],
                     finalize: Callable[[dict], dict] | None = None) -> dict:
    """{think_share, think_count, split_think} of one benchmark's prediction records."""
    if not records:
        raise ValueError("no prediction records to count thinking in")
    count = sum(has_thought(raw_text(r)) for r in records)
    return {"think_share": count / len(records), "think_count": count,
            "split_think": score(split_records(records, finalize))}
