"""RSVQA scoring: the reference rules, hand-checked cases (evaluation.md §3.4)."""

from __future__ import annotations

import pytest

from internvl_da.eval.rsvqa import is_correct, score


@pytest.mark.parametrize("prediction,answer,qtype,expected", [
    ("yes", "yes", "presence", True),
    ("Yes", "yes", "presence", True),  # case-insensitive
    ("yes.", "yes", "presence", False),  # punctuation counts
    (" yes", "yes", "presence", False),  # no extra trimming beyond chat()'s strip
    ("", "no", "comp", False),  # empty never right
    (None, "no", "comp", False),
    ("Urban", "urban", "rural_urban", True),
    ("5", "7", "count", True),  # same bucket (0, 100]
    ("0", "0", "count", True),
    ("0", "3", "count", False),
    ("150", "99", "count", False),
    ("101", "1000", "count", True),
    ("1001", "5000", "count", True),
    (" 12 ", "30", "count", True),  # int() accepts surrounding whitespace
    ("12.0", "12", "count", False),  # ... but not decimals
    ("twelve", "12", "count", False),
    (None, "0", "count", True),  # a missing response counts as 0
    ("50", "1234m2", "area", False),
    ("500", "1234m2", "area", False),  # 1234m2 -> 1234 -> > 1000 bucket
    ("2000", "1234m2", "area", True),
    ("5", "12m2", "area", True),  # rstrip('m2') also eats the trailing 2 -> "1" -> (0,100]
    ("50", "22m2", "area", False),  # "22m2".rstrip("m2") == "" -> int('') fails -> wrong
])
def test_reference_rules(prediction, answer, qtype, expected):
    assert is_correct(prediction, answer, qtype) is expected


def test_aggregates_and_paper_avg():
    records = [
        {"type": "presence", "prediction": "yes", "answer": "yes"},
        {"type": "presence", "prediction": "no", "answer": "yes"},
        {"type": "comp", "prediction": "no", "answer": "no"},
        {"type": "count", "prediction": "3", "answer": "4"},
        {"type": "count", "prediction": "0", "answer": "4"},
    ]
    metrics = score(records)
    assert metrics["per_type"] == {"comp": 1.0, "count": 0.5, "presence": 0.5}
    assert metrics["counts"] == {"comp": 1, "count": 2, "presence": 2}
    assert metrics["overall"] == 0.6
    assert metrics["avg"] == round(2 / 3, 4)  # presence + comp only, question-weighted
