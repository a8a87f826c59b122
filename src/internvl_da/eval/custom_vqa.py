"""Your own domain, task `vqa` (and the general held-out set): exact match, raw and normalised.

Prompt: question + "\\nAnswer the question using a single word or phrase." (RSVQA's, §3.2).
Metrics: `exact_match` = prediction == answer, character for character (RSVQA's rule without
its case folding); `accuracy` = equality after `normalize` on both sides, a documented subset of
the VQAv2 answer processing: Unicode NFKC; lower case; punctuation removed (a '.' or ',' between
digits kept: "1.5", "1,000"); the articles a / an / the dropped; the number words zero..ten as
digits; whitespace collapsed. A null prediction is wrong under both.
"""

from __future__ import annotations

import re
import string
import unicodedata

FIELDS = {"id": (int, str), "prediction": (str, type(None)), "answer": str}
ARTICLES = {"a", "an", "the"}
NUMBERS = {w: str(k) for k, w in enumerate(("zero", "one", "two", "three", "four", "five",
                                            "six", "seven", "eight", "nine", "ten"))}
_KEEP_IN_NUMBER = re.compile(r"(?<=\d)[.,](?=\d)")
_PUNCTUATION = re.compile("[" + re.escape(string.punctuation) + "]")


def normalize(text: str) -> str:
    """The answer as compared by `accuracy` (module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _KEEP_IN_NUMBER.sub(lambda m: "\0" if m.group() == "." else "\1", text)
    text = _PUNCTUATION.sub(" ", text).replace("\0", ".").replace("\1", ",")
    words = [NUMBERS.get(w, w) for w in text.split() if w not in ARTICLES]
    return " ".join(words)


def judge(record: dict) -> dict:
    """{correct (normalised), exact (raw)} of one prediction record."""
    prediction = record["prediction"]
    if prediction is None:
        return {"correct": False, "exact": False}
    return {"correct": normalize(prediction) == normalize(record["answer"]),
            "exact": prediction == record["answer"]}


def score(records: list[dict]) -> dict:
    """`accuracy` (normalised), `exact_match` (raw), `correct`, `total`; 4 places."""
    judged = [judge(r) for r in records]
    total = len(judged)
    correct = sum(j["correct"] for j in judged)
    return {"task": "vqa", "accuracy": round(correct / total, 4) if total else None,
            "exact_match": round(sum(j["exact"] for j in judged) / total, 4) if total else None,
            "correct": correct, "total": total}
