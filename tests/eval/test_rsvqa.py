"""RSVQA scoring: the reference rules, hand-checked cases (evaluation.md §3.4)."""

from __future__ import annotations

import json

import pytest

from internvl_da.eval.rsvqa import PROMPT_SUFFIX, is_correct, load, score


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


@pytest.mark.parametrize("prediction,answer,qtype", [
    ("-5", "50", "count"), ("-1", "-1", "count"), ("-3", "0", "count"),
    ("50", "-5", "count"), ("-5", "50m2", "area"), ("-2000", "1234m2", "area"),
])
def test_negative_numbers_are_wrong_regression_bucket_of_negatives(prediction, answer, qtype):
    """Regression (issue 10 item 5): `-5` vs `50` was scored correct. The reference buckets
    {0}, (0,100], (100,1000], >1000 contain no negative value, so the item is wrong."""
    assert is_correct(prediction, answer, qtype) is False


def _reference_count(response: int, answer: int) -> bool:
    """The reference `is_correct_count` chain, written out as an independent oracle."""
    return ((response == 0 and answer == 0) or (0 < response <= 100 and 0 < answer <= 100)
            or (100 < response <= 1000 and 100 < answer <= 1000)
            or (response > 1000 and answer > 1000))


def test_count_rule_equals_the_reference_chain_on_a_grid():
    values = [-1001, -1000, -101, -100, -1, 0, 1, 99, 100, 101, 999, 1000, 1001, 10**6]
    for p in values:
        for a in values:
            assert is_correct(str(p), str(a), "count") is _reference_count(p, a), (p, a)


def test_load_reads_the_released_list_and_names_bad_records(tmp_path):
    path = tmp_path / "rsvqa_l_test_instruct.json"
    path.write_text(json.dumps([
        {"id": "17", "image": "1.tif", "question": "Is there a road?", "gt_answer": "yes",
         "type": "presence"},
        {"id": 18, "image": "1.tif", "question": "How many?", "gt_answer": 4, "type": "count"}]))
    first, second = load(path, tmp_path / "Images_LR")
    assert first == {"id": 17, "question": "Is there a road?" + PROMPT_SUFFIX,
                     "image": str(tmp_path / "Images_LR/1.tif"), "answer": "yes",
                     "type": "presence"}
    assert second["answer"] == "4" and second["id"] == 18
    path.write_text(json.dumps([{"id": 1, "image": "a", "question": "q", "gt_answer": "no",
                                 "type": "comp"}, {"id": 2, "image": "a", "question": "q"}]))
    with pytest.raises(ValueError, match=r"rsvqa_l_test_instruct\.json: record 2: missing "
                                         r"field 'gt_answer'"):
        load(path, tmp_path)
    path.write_text(json.dumps([{"id": "x7", "image": "a", "question": "q", "gt_answer": "no",
                                 "type": "comp"}]))
    with pytest.raises(ValueError, match=r"record 1: id 'x7' is not an integer"):
        load(path, tmp_path)
    path.write_text('{"id": 1}')
    with pytest.raises(ValueError, match="expected a JSON list"):
        load(path, tmp_path)
