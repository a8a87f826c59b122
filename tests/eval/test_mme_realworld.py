"""MME-RealWorld: the reference prompt bytes, letter extraction quirks and micro scores."""

from __future__ import annotations

import pytest

from internvl_da.eval.mme_realworld import (
    INSTRUCTION,
    build_prompt,
    judge,
    official_extract,
    post_process,
    score,
)

CHOICES = ["(A) 1", "(B) 2", "(C) three cars", "(D) 4", "(E) All the above answers are wrong."]


def test_prompt_exact():
    prompt = build_prompt("How many cars?", CHOICES[:2])
    assert prompt == ("How many cars?选项如下所示:\n(A) 1\n(B) 2\n"
                      "Select the best answer to the above multiple-choice question based on the "
                      "image.             Respond with only the letter (A, B, C, D, or E) of the "
                      "correct option. \nThe best answer is:")
    assert INSTRUCTION.count(" " * 13) == 1 and " " * 14 not in INSTRUCTION


@pytest.mark.parametrize("response,expected", [
    ("B", "B"),
    ("The best answer is C", "C"),
    ("(D) 4", "D"),
    ("Answer: a car", "A"),  # first capital A-E anywhere, even inside a word
    ("three cars", "C"),  # no capital: substring of a choice text
    ("", "A"),  # empty remainder is a substring of every choice -> the first letter
    ("   ", "A"),
    ("none of these apply here at all so i will not pick any of them", ""),  # > 10 words
    ("xyz", ""),
    ("The best option isThe correct option is 2", "B"),  # fused prefix removed, " 2" in (B)
    ("The best option is 2", ""),  # not a listed prefix on its own: nothing matches
])
def test_post_process(response, expected):
    assert post_process(response, CHOICES) == expected


def test_micro_scores():
    rows = [
        {"id": 1, "prediction": "A", "answer": "A", "choices": CHOICES, "task": "Perception",
         "category": "Objects_Count"},
        {"id": 2, "prediction": "B", "answer": "C", "choices": CHOICES, "task": "Perception",
         "category": "Objects_Count"},
        {"id": 3, "prediction": "E", "answer": "E", "choices": CHOICES, "task": "Reasoning",
         "category": "Intention"},
    ]
    assert score(rows) == {"overall": round(2 / 3, 4),
                           "per_task": {"Perception": 0.5, "Reasoning": 1.0},
                           "per_category": {"Intention": 1.0, "Objects_Count": 0.5},
                           "extractor": "internvl"}
    with pytest.raises(KeyError, match="unknown task"):
        score([dict(rows[0], task="Planning")])


# MME-RealWorld's extract_characters_regex: the same steps, prefixes "The best answer is",
# "The correct answer is", "The answer is", "The answer", "The best option isThe correct option
# is", "Best answer:Best option:" (two missing commas in its list).
@pytest.mark.parametrize("response,official,internvl", [
    ("Best answer: C", "B", "C"),  # official keeps "Best answer:", so the B of "Best" wins
    ("Best option: D", "B", "D"),
    ("Best answer:Best option: D", "D", "D"),  # the fused official prefix is removed
    ("The best answer is C", "C", "C"),
    ("The answer (E)", "E", "E"),
    ("three cars", "C", "C"),  # no capital: substring of a choice
    ("", "A", "A"),  # empty remainder: the first choice
    ("none of these apply here at all so i will not pick any of them", "", ""),
    ("The best option is 2", "", ""),  # not a prefix on its own in either list
])
def test_official_extractor(response, official, internvl):
    assert official_extract(response, CHOICES) == official
    assert post_process(response, CHOICES) == internvl


def test_score_with_the_official_extractor():
    rows = [{"id": 1, "prediction": "Best answer: C", "answer": "C", "choices": CHOICES,
             "task": "Perception", "category": "Objects_Count"},
            {"id": 2, "prediction": "Best answer: B", "answer": "B", "choices": CHOICES,
             "task": "Reasoning", "category": "Intention"}]
    assert score(rows)["overall"] == 1.0
    official = score(rows, extractor="official")
    assert official == {"overall": 0.5, "per_task": {"Perception": 0.0, "Reasoning": 1.0},
                        "per_category": {"Intention": 1.0, "Objects_Count": 0.0},
                        "extractor": "official"}
    assert judge(rows[0], "official") == {"correct": False, "pred": "B"}
    with pytest.raises(ValueError, match="unknown extractor 'mme'"):
        score(rows, extractor="mme")


def _mme_record(**changes):
    record = {"Question_id": "Perception/Autonomous_Driving/Objects_Identify/0000",
              "Question Type": "Multiple Choice", "Image": "AutonomousDriving/a.jpg",
              "Text": "What is ahead?", "Answer choices": ["(A) car", "(B) bus"],
              "Ground truth": "B", "Task": "Perception", "Subtask": "Autonomous_Driving",
              "Category": "Objects_Identify", "Dataset": "nuScenes"}
    return {**record, **changes}


def test_load_reads_the_released_json_and_names_bad_records(tmp_path):
    import json

    from internvl_da.eval.mme_realworld import load

    path = tmp_path / "MME_RealWorld.json"
    path.write_text(json.dumps([_mme_record(), _mme_record(Subtask="Remote Sensing",
                                                           **{"Question Type": "Other"})]))
    (item,) = load(path, tmp_path / "data")  # other subtasks are skipped, not checked
    assert item["image"] == str(tmp_path / "data/AutonomousDriving/a.jpg")
    assert item["question"] == build_prompt("What is ahead?", ["(A) car", "(B) bus"])
    assert (item["answer"], item["task"], item["category"]) == ("B", "Perception",
                                                               "Objects_Identify")
    path.write_text(json.dumps([_mme_record(), _mme_record(**{"Question Type": "Open"})]))
    with pytest.raises(ValueError, match=r"MME_RealWorld\.json: record 2: Question Type "
                                         r"'Open'; the reference asserts"):
        load(path, tmp_path)
    bad = _mme_record()
    del bad["Ground truth"]
    path.write_text(json.dumps([bad]))
    with pytest.raises(ValueError, match=r"record 1: missing field 'Ground truth'"):
        load(path, tmp_path)
