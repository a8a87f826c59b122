"""GMAI-MMBench: VLMEvalKit prompt and can_infer rules (2024-10-19), grouped micro scores."""

from __future__ import annotations

import pytest

from internvl_da.eval.gmai import build_prompt, can_infer, score

ROW = {"question": "Which organ is highlighted?", "A": "liver", "B": "spleen", "C": "kidney",
       "D": "pancreas", "E": "", "hint": ""}
CHOICES = {"A": "liver", "B": "spleen", "C": "kidney", "D": "pancreas"}


def test_prompt():
    assert build_prompt(ROW) == ("Which organ is highlighted?\nA. liver\nB. spleen\nC. kidney\n"
                                 "D. pancreas\nAnswer with the option's letter from the given "
                                 "choices directly.")
    assert build_prompt({**ROW, "hint": "CT scan"}).startswith("CT scan\nWhich organ")
    assert build_prompt({**ROW, "question": "哪个器官?"}).endswith("\n请直接回答选项字母。")


@pytest.mark.parametrize("prediction,expected", [
    ("B", "B"),
    ("(C)", "C"),
    ("The answer is D.", "D"),
    ("A or B", "Z"),  # two letters as tokens: not inferred -> exact matching gives Z
    ("BANANA", "Z"),  # letters inside a word do not count; no option text matches
    ("it is the kidney", "C"),  # option text inside the prediction
    ("liver or spleen", "Z"),  # two option texts
    ("Cannot determine the answer", "Z"),
    ("Z", "Z"),
    ("", "Z"),
    (None, "Z"),
])
def test_can_infer(prediction, expected):
    assert can_infer(prediction, CHOICES) == expected


def test_grouped_scores():
    rows = [
        {"prediction": "A", "answer": "A", "choices": CHOICES, "clinical vqa task": "Cls",
         "department": "Radiology", "perceptual granularity": "Organ"},
        {"prediction": "kidney", "answer": "B", "choices": CHOICES, "clinical vqa task": "Cls",
         "department": "Oncology", "perceptual granularity": "Organ"},
    ]
    metrics = score(rows)
    assert metrics["overall"] == 0.5
    assert metrics["per_department"] == {"Oncology": 0.0, "Radiology": 1.0}
    assert metrics["per_clinical_vqa_task"] == {"Cls": 0.5}
    assert "exact matching" in metrics["judge"]
