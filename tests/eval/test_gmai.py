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


def test_null_prediction_is_the_text_none_regression_vlmevalkit_str_answer():
    """Regression (issue 10 item 5): a null prediction was matched as '' (-> 'Z'). VLMEvalKit's
    `can_infer` starts with `str(answer)`, so it is the text "None", whose lowercase contains
    an option "No" (can_infer_text)."""
    choices = {"A": "Yes", "B": "No"}
    assert can_infer(None, choices) == "B"
    assert score([{"prediction": None, "answer": "B", "choices": choices}])["overall"] == 1.0
    assert can_infer("", choices) == "Z"  # an empty string stays empty
    assert can_infer(None, CHOICES) == "Z"  # no option inside "none"


def test_rule_extracted_z_is_final_no_judge_call(tmp_path, fake_client):
    """VLMEvalKit `extract_answer_from_item` returns a 'Z' the rules extract (refusal, bare Z)
    without asking the judge; only predictions the rules cannot match reach it."""
    from internvl_da.eval.gmai import judge
    from internvl_da.eval.judge import ChoiceJudge, ReplyCache

    client, calls = fake_client(["A"])
    llm = ChoiceJudge(ReplyCache(tmp_path / "cache.jsonl"), client)
    refusal = {"question": "q", "prediction": "Cannot determine the answer", "answer": "A",
               "choices": CHOICES}
    assert judge(refusal, llm) == {"correct": False, "pred": "Z"} and calls == []
    assert judge({**refusal, "prediction": None}, llm)["pred"] == "A"  # "None" goes to it
    assert calls[0]["messages"][0]["content"].endswith("\nAnswer: None\nYour output: ")


def _png_b64(color, size=(8, 8)) -> str:
    import base64
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _tsv(path, header, rows):
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows),
                    encoding="utf-8")


def test_load_reads_the_released_tsv_as_vlmevalkit(tmp_path):
    """Column names lowercased except option letters; an `image` of <= 64 characters is the
    index of the row holding the image; fields beyond the csv module's 128 KiB default limit
    (real base64 images) are read; pandas-NaN cells ("NA", "None") are no options."""
    from PIL import Image

    from internvl_da.eval.gmai import load

    image = _png_b64((10, 20, 30))
    header = ["Index", "Question", "A", "B", "C", "Answer", "Image", "Department", "hint"]
    rows = [["1", "Which organ?", "liver", "spleen", "NA", "A", image, "Radiology", ""],
            ["2", "Which side?", "left", "None", "right", "C", "1", "Oncology", "CT scan"]]
    _tsv(tmp_path / "GMAI-MMBench_VAL.tsv", header, rows)
    first, second = load(tmp_path / "GMAI-MMBench_VAL.tsv", tmp_path / "images")
    assert first["choices"] == {"A": "liver", "B": "spleen"}  # "NA" is no option
    assert second["choices"] == {"A": "left", "C": "right"}  # neither is "None"
    assert second["question"].startswith("CT scan\nWhich side?\nA. left\nC. right\n")
    assert first["department"] == "Radiology" and second["answer"] == "C"
    with Image.open(second["image"]) as image:  # row 2 points at row 1's image
        assert image.getpixel((0, 0)) == (10, 20, 30)
    # a field longer than csv's default limit (131072 characters)
    huge = "A" * 200_000
    _tsv(tmp_path / "big.tsv", header, [["5", "q", "a", "b", "c", "A", huge, "D", ""]])
    (item,) = load(tmp_path / "big.tsv", tmp_path / "big_images")
    assert item["id"] == 5 and (tmp_path / "big_images/5.png").stat().st_size == 150_000


def test_load_names_the_line_of_a_bad_row(tmp_path):
    from internvl_da.eval.gmai import load

    header = ["index", "question", "A", "B", "answer", "image"]
    _tsv(tmp_path / "v.tsv", header, [["1", "q", "a", "b", "A", _png_b64((1, 2, 3))],
                                      ["2", "q", "a", "b", "A", "7"]])
    with pytest.raises(ValueError, match=r"v\.tsv:3: image '7' is neither base64 nor the "
                                         r"index of a row"):
        load(tmp_path / "v.tsv", tmp_path / "img")
    _tsv(tmp_path / "w.tsv", header[:-1], [["1", "q", "a", "b", "A"]])
    with pytest.raises(ValueError, match=r"w\.tsv:1: missing columns \['image'\]"):
        load(tmp_path / "w.tsv", tmp_path / "img")
    _tsv(tmp_path / "x.tsv", header, [["1", "q", "a", "A", _png_b64((1, 2, 3))]])
    with pytest.raises(ValueError, match=r"x\.tsv:2: 5 fields for 6 columns"):
        load(tmp_path / "x.tsv", tmp_path / "img")
