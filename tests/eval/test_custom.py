"""Generic scorers of your own domains, on hand-computed cases; loader and `score` CLI."""

from __future__ import annotations

import json
import math

import pytest

from internvl_da.eval import custom_caption, custom_grounding, custom_mcq, custom_vqa
from internvl_da.eval.custom import load_task
from internvl_da.eval.score import score_file


def test_vqa_normalised_and_raw_exact_match():
    assert custom_vqa.normalize("  The Two  Cats! ") == "2 cats"
    assert custom_vqa.normalize("1,000.5 m") == "1,000.5 m"  # separators inside numbers kept
    assert custom_vqa.normalize("yes.") == "yes"
    records = [{"id": 1, "prediction": "Yes.", "answer": "yes"},       # normalised only
               {"id": 2, "prediction": "yes", "answer": "yes"},        # both
               {"id": 3, "prediction": "three", "answer": "3"},        # normalised only
               {"id": 4, "prediction": None, "answer": "no"},          # neither
               {"id": 5, "prediction": "a dog", "answer": "cat"}]      # neither
    assert custom_vqa.score(records) == {"task": "vqa", "accuracy": 0.6, "exact_match": 0.2,
                                         "correct": 3, "total": 5}


def test_mcq_uses_gmai_matching():
    choices = {"A": "red", "B": "blue", "C": "green"}
    records = [{"id": 1, "prediction": "B", "answer": "B", "choices": choices},
               {"id": 2, "prediction": "The answer is (C).", "answer": "C", "choices": choices},
               {"id": 3, "prediction": "It is blue", "answer": "B", "choices": choices},
               {"id": 4, "prediction": "A or B", "answer": "A", "choices": choices},  # Z
               {"id": 5, "prediction": None, "answer": "A", "choices": choices}]
    assert [custom_mcq.judge(r)["pred"] for r in records] == ["B", "C", "B", "Z", "Z"]
    assert custom_mcq.score(records) == {"task": "mcq", "accuracy": 0.6, "correct": 3,
                                         "total": 5}


def test_grounding_standard_iou_and_the_dior_rule():
    # image 100 x 100: 0-1000 coordinates / 10 = pixels
    record = {"id": 1, "answer": [0, 0, 10, 10], "image_size": [100, 100],
              "prediction": "<ref>x</ref><box>[[0, 0, 100, 50]]</box>"}  # pixels [0, 0, 10, 5]
    standard = custom_grounding.judge(record)
    assert standard["box"] == [0.0, 0.0, 10.0, 5.0]
    assert standard["iou"] == 0.5 and standard["correct"]  # 50 / 100, >= 0.5
    dior = custom_grounding.judge(record, iou="dior")  # (11 * 6) / (121 + 66 - 66)
    assert math.isclose(dior["iou"], 66 / 121) and dior["correct"]
    far = {**record, "prediction": "<box>[[0, 0, 60, 60]]</box>"}  # [0, 0, 6, 6]: 36 / 100
    assert not custom_grounding.judge(far)["correct"]
    assert math.isclose(custom_grounding.judge(far, iou="dior")["iou"], 49 / 121)
    bare = {**record, "prediction": "[0, 0, 100, 100]"}  # DIOR's parser needs [[...]]
    assert custom_grounding.judge(bare) == {"correct": False, "box": None, "iou": None}
    assert custom_grounding.score([record, far, bare]) == {
        "task": "grounding", "acc@0.5": 0.3333, "correct": 1, "total": 3, "iou": "standard"}
    with pytest.raises(ValueError, match="iou rule 'voc'"):
        custom_grounding.score([record], iou="voc")


def test_caption_metrics_through_pycocoevalcap():
    records = [{"id": "a", "prediction": "a red circle on a white table",
                "references": ["a red circle on a white table"]},
               {"id": "b", "prediction": "two blue squares",
                "references": ["two blue squares near a tree"]}]
    items = custom_caption.details(records)
    assert items[0] == {"id": "a", "Bleu_1": 1.0, "Bleu_2": 1.0, "Bleu_3": 1.0, "Bleu_4": 1.0,
                        "ROUGE_L": 1.0, "CIDEr": 10.0}
    # b: 3 of 6 reference words, all matching: BLEU-1 = brevity penalty exp(1 - 6/3)
    assert items[1]["Bleu_1"] == round(math.exp(-1), 4)
    metrics = custom_caption.score(records)
    # file BLEU-1: 10 of 10 words right, brevity exp(1 - 13/10)
    assert metrics["Bleu_1"] == round(math.exp(-0.3), 4) and metrics["total"] == 2
    assert metrics["CIDEr"] == round((10.0 + items[1]["CIDEr"]) / 2, 4)


def test_loader_and_score_cli_with_details(tmp_path, capsys):
    from internvl_da.cli import main

    line = {"id": "d_1", "image": "a.png", "task": "grounding", "bbox": [0, 0, 10, 10],
            "size": [100, 100], "conversations": [
                {"from": "human", "value": "<image>\nDetect <ref>x</ref>"},
                {"from": "gpt", "value": "<ref>x</ref><box>[[0, 0, 100, 100]]</box>"}]}
    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps(line) + "\n")
    item = load_task("grounding", test, tmp_path)[0]
    assert (item["question"], item["answer"], item["image"]) == (
        "Detect <ref>x</ref>", [0, 0, 10, 10], str(tmp_path / "a.png"))
    with pytest.raises(ValueError, match=r"test.jsonl:1: a 'grounding' item in a 'vqa'"):
        load_task("vqa", test, tmp_path)
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(json.dumps({**item, "prediction": "<box>[[0, 0, 100, 50]]</box>"})
                           + "\n")
    assert score_file("custom-grounding", predictions, iou="dior")["acc@0.5"] == 1.0
    assert main(["score", "custom-grounding", str(predictions), "--iou", "standard",
                 "--details", str(tmp_path / "d.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out)["acc@0.5"] == 1.0
    assert json.loads((tmp_path / "d.jsonl").read_text())["iou"] == 0.5
