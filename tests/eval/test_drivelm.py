"""DriveLM evaluation: tags back-projected with one decimal, counted, and output.json written."""

from __future__ import annotations

import json

from internvl_da.eval import drivelm


def test_finalize_back_projects_and_counts():
    record = {"id": "s_f_0", "prediction": "Car <c1,CAM_FRONT,[500,250]> and <c2, CAM_TOP,[1,2]>",
              "answer": "x", "question_old": "q"}
    out = drivelm.finalize(record)
    assert out["prediction"] == "Car <c1,CAM_FRONT,800.0,450.0> and <c2, CAM_TOP,[1,2]>"
    assert out["unconverted_tags"] == 1 and out["raw_prediction"] == record["prediction"]


def test_submission_format(tmp_path):
    rows = [{"id": "s_f_0", "prediction": "Yes.", "answer": "No.", "question_old": "Moving?"}]
    drivelm.write_submission(rows, tmp_path)
    assert json.loads((tmp_path / "output.json").read_text()) == [
        {"question": "Moving?", "answer": "Yes.", "gt_answers": "No.", "id": "s_f_0"}]
    assert drivelm.score([{**rows[0], "unconverted_tags": 2}])["unconverted_tags"] == 2


def test_load_uses_the_human_turn_as_fed(tmp_path):
    line = {"id": "s_f_0", "image": "s_f.jpg", "question_old": "Is <c1,CAM_FRONT,1.0,2.0> ok?",
            "conversations": [{"from": "human", "value": "<image>\nIs <c1,CAM_FRONT,[1,2]> ok? "},
                              {"from": "gpt", "value": "Yes."}]}
    ann = tmp_path / "val.jsonl"
    ann.write_text(json.dumps(line) + "\n")
    (item,) = drivelm.load(ann, tmp_path / "stitch")
    assert item["question"] == "<image>\nIs <c1,CAM_FRONT,[1,2]> ok?"
    assert item["image"].endswith("stitch/s_f.jpg") and item["answer"] == "Yes."
