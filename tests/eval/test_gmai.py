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


def test_llm_choice_extraction_only_when_the_rules_fail(tmp_path, fake_client):
    from internvl_da.eval.judge import ChoiceJudge, ReplyCache

    choices = {"A": "left", "B": "both sides", "C": "no lesion", "D": "right"}
    records = [
        {"id": 1, "question": "prompt", "raw_question": "Where is the lesion", "answer": "D",
         "prediction": "It is on the patient's right", "choices": choices},  # text match: D
        {"id": 2, "question": "prompt", "raw_question": "Where is the lesion", "answer": "B",
         "prediction": "on each side of the body", "choices": choices},  # rules: no match
        {"id": 3, "question": "prompt", "raw_question": "Where is the lesion", "answer": "A",
         "prediction": "hmm", "choices": choices}]  # the judge replies Z: stays wrong
    client, calls = fake_client(["B", "Z"])
    llm = ChoiceJudge(ReplyCache(tmp_path / "gmai_judge.jsonl"), client)
    result = score(records, llm)
    assert result["overall"] == round(2 / 3, 4) and "choice extraction" in result["judge"]
    assert len(calls) == 2  # item 1 never reaches the judge
    prompt = calls[0]["messages"][0]["content"]
    assert prompt.startswith("You are an AI assistant who will help me to match an answer")
    assert prompt.endswith("Example 3: \nQuestion: Where is the lesion?\nOptions: There are "
                           "several options: \nA. left\nB. both sides\nC. no lesion\nD. right\n"
                           "\nAnswer: on each side of the body\nYour output: ")
    assert calls[0]["temperature"] == 0.0
    # replayed offline from the cache, same result; without a judge, rule-based only
    replay = ChoiceJudge(ReplyCache(tmp_path / "gmai_judge.jsonl"))
    assert score(records, replay)["overall"] == result["overall"]
    assert score(records)["overall"] == round(1 / 3, 4)
