"""DIOR-RSVG scoring: hand-computed cases for every reference rule (evaluation.md §4.4)."""

from __future__ import annotations

import pytest

from internvl_da.eval.dior_rsvg import iou_plus_one, judge, parse_box, score

SIZE = [800, 800]


def record(prediction, answer=(100, 100, 299, 299)):
    return {"prediction": prediction, "answer": list(answer), "image_size": SIZE}


def test_parse_first_double_bracket_box_only():
    assert parse_box("<ref>x</ref><box>[[125, 125, 375, 375]]</box>", SIZE) == \
        [100.0, 100.0, 300.0, 300.0]
    assert parse_box("[1, 2, 3, 4]", SIZE) is None  # bare box: element 0 is a number
    assert parse_box("no box here", SIZE) is None
    assert parse_box(None, SIZE) is None
    assert parse_box("[[1, 2, 3]]", SIZE) is None  # three coordinates: no regex match
    assert parse_box("[[a, b, c, d]]", SIZE) is None  # not JSON
    # Only the first match counts, even if a later one would be right.
    assert parse_box("[[0, 0, 10, 10]] then [[125, 125, 375, 375]]", SIZE) == [0, 0, 8.0, 8.0]
    # Clamped to the image, corners not reordered.
    assert parse_box("[[1200, -50, 100, 500]]", [800, 600]) == [800, 0, 80.0, 300.0]


def test_iou_plus_one_convention():
    assert iou_plus_one([0, 0, 9, 9], [0, 0, 9, 9]) == 1.0
    # 10x10 boxes overlapping in a 5x10 strip: inter 50, union 150 with the +1 convention.
    assert iou_plus_one([0, 0, 9, 9], [5, 0, 14, 9]) == pytest.approx(50 / 150)
    assert iou_plus_one([0, 0, 9, 9], [20, 20, 29, 29]) == 0.0


def test_strictly_greater_than_half():
    # Boxes [0,0,9,9] and [0,0,9,y2]: with y2 = 19 the IoU is 100/200 = exactly 0.5 -> wrong.
    exact = {"prediction": "[[0, 0, 11.25, 23.75]]", "answer": [0, 0, 9, 9],
             "image_size": SIZE}  # -> pixels [0, 0, 9, 19]
    assert judge(exact)["iou"] == pytest.approx(0.5)
    assert judge(exact)["correct"] is False
    assert judge(record("[[125, 125, 375, 375]]"))["correct"] is True


def test_score_counts_unparseable_as_wrong():
    metrics = score([record("[[125, 125, 375, 375]]"), record("[125, 125, 375, 375]"),
                     record("")])
    assert metrics == {"acc@0.5": pytest.approx(1 / 3), "correct": 1, "total": 3}
