"""Your own domain, task `caption`: BLEU-1..4, ROUGE-L and CIDEr-D with pycocoevalcap.

Prompt: CAPTION_PROMPT of prep/custom.py. Each item holds every caption the table gives for its
image as `references`. Metrics as coco-caption computes them (evaluation.md §6.5): references
and predictions tokenized by the PTB tokenizer (eval/ptb.py, the released one run from a
writable folder), `Bleu(4)`, `Rouge()`, `Cider()` over the whole file (CIDEr's IDF comes from
the references of the file); a null prediction is the empty caption. Values as pycocoevalcap
returns them: BLEU and ROUGE-L in [0, 1], CIDEr on its own scale (10 = identical with every
n-gram informative). `details` gives each item's own values (pycocoevalcap's per-item lists).
"""

from __future__ import annotations

from internvl_da.eval import ptb

FIELDS = {"id": (int, str), "prediction": (str, type(None)), "references": list}
KEYS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr")


def _check(records: list[dict]) -> None:
    for record in records:
        refs = record["references"]
        if not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            raise ValueError(f"item {record['id']!r}: `references` must be non-empty texts")


def _compute(records: list[dict]) -> tuple[dict[str, float], list[dict[str, float]]]:
    """(file metrics, per-item metrics) in record order."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    _check(records)
    refs = {k: [{"caption": c} for c in r["references"]] for k, r in enumerate(records)}
    hyps = {k: [{"caption": r["prediction"] or ""}] for k, r in enumerate(records)}
    refs, hyps = ptb.tokenize(refs), ptb.tokenize(hyps)
    bleu, bleu_items = Bleu(4).compute_score(refs, hyps, verbose=0)
    rouge, rouge_items = Rouge().compute_score(refs, hyps)
    cider, cider_items = Cider().compute_score(refs, hyps)
    overall = dict(zip(KEYS, [*bleu, rouge, cider], strict=True))
    items = [dict(zip(KEYS, [*(b[k] for b in bleu_items), rouge_items[k], cider_items[k]],
                      strict=True)) for k in range(len(records))]
    return ({k: round(float(v), 4) for k, v in overall.items()},
            [{k: round(float(v), 4) for k, v in item.items()} for item in items])


def score(records: list[dict]) -> dict:
    """BLEU-1..4, ROUGE_L, CIDEr of the file, and `total`."""
    if not records:
        return {"task": "caption", **dict.fromkeys(KEYS), "total": 0}
    return {"task": "caption", **_compute(records)[0], "total": len(records)}


def details(records: list[dict]) -> list[dict]:
    """Per-item {id, Bleu_1..4, ROUGE_L, CIDEr} (one tokenizer run for the whole file)."""
    return [{"id": r["id"], **item} for r, item in zip(records, _compute(records)[1],
                                                       strict=True)]


def judge(record: dict) -> dict:
    """One item alone (its CIDEr's IDF from its own references only: use `details` for a file)."""
    return details([record])[0]
