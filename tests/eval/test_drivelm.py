"""DriveLM evaluation: tags back-projected with one decimal, counted, and output.json written."""

from __future__ import annotations

import json

import pytest

from internvl_da.cli import main
from internvl_da.eval import drivelm
from internvl_da.eval.score import score_file


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


def test_load_carries_the_scorer_fields(tmp_path):
    line = {"id": "s_f_0", "image": "s_f.jpg", "question_old": "Q <c1,CAM_FRONT,1.0,2.0>?",
            "answer_old": "At <c1,CAM_FRONT,1.0,2.0>.", "tag": [2, 3],
            "conversations": [{"from": "human", "value": "<image>\nQ?"},
                              {"from": "gpt", "value": "At <c1,CAM_FRONT,[0,2]>."}]}
    ann = tmp_path / "val.jsonl"
    ann.write_text(json.dumps(line) + "\n")
    (item,) = drivelm.load(ann, tmp_path)
    assert item["answer_old"] == "At <c1,CAM_FRONT,1.0,2.0>." and item["tag"] == [2, 3]


def records():
    base = {"question": "q", "answer": "normalised", "unconverted_tags": 0}
    return [{**base, "id": "s_f_0", "question_old": "Important?", "tag": [3],
             "answer_old": "<c1,CAM_FRONT,100.0,200.0>",
             "prediction": "<c1,CAM_FRONT,101.0,200.0>"},
            {**base, "id": "s_f_1", "question_old": "Is <c1,CAM_FRONT,100.0,200.0> moving?",
             "tag": [0], "answer_old": "Yes.", "prediction": "Yes", "unconverted_tags": 1}]


def test_score_uses_the_gt_the_records_carry():
    metrics = drivelm.score(records())
    assert metrics["accuracy"] == 0.0 and metrics["match_f1"] == pytest.approx(100, abs=1e-5)
    assert metrics["final"] is None and metrics["partial"] is None  # no tag-2 items
    assert metrics["samples"] == 2 and metrics["unconverted_tags"] == 1
    assert metrics["counts"]["per_tag"]["0"] == {"scored": 1, "skipped": 0}
    old = [{k: v for k, v in r.items() if k != "tag"} for r in records()]
    assert "--gt" in drivelm.score(old)["note"] and "accuracy" not in drivelm.score(old)


def test_score_file_with_gt_or_records_and_cli(tmp_path, capsys):
    preds = tmp_path / "predictions.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in records()))
    from_records = score_file("drivelm", preds)
    assert from_records["accuracy"] == 0.0 and from_records["unconverted_tags"] == 1
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"s": {"key_frames": {"f": {"QA": {"perception": [
        {"Q": "Important?", "A": "<c1,CAM_FRONT,100.0,200.0>", "tag": [3]},
        {"Q": "Is <c1,CAM_FRONT,100.0,200.0> moving?", "A": "Yes", "tag": [0]}]}}}}}))
    output = tmp_path / "output.json"
    drivelm.write_submission(records(), tmp_path)
    assert main(["score", "drivelm", str(output), "--gt", str(gt),
                 "--details", str(tmp_path / "d.jsonl")]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["accuracy"] == 1.0 and metrics["judge"] == "none (offline)"
    details = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert details[1] == {"id": "s_f_1", "tags": [0], "correct": True, "f1": None,
                          "skipped": False}
    with pytest.raises(ValueError, match=r"output\.json: the records carry no DriveLM answers"):
        score_file("drivelm", output)


def test_cli_judge_cache_replays(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rows = records()
    rows[1] = {**rows[1], "tag": [1]}
    preds = tmp_path / "predictions.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cache = tmp_path / "judge.jsonl"
    cache.write_text("".join(json.dumps(x) + "\n" for x in [
        {"answer": "Yes", "gt": "Yes.", "score": 90},
        {"answer": "<c1,CAM_FRONT,101.0,200.0>", "gt": "<c1,CAM_FRONT,100.0,200.0>",
         "score": 70}]))
    assert main(["score", "drivelm", str(preds), "--judge-cache", str(cache)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["chatgpt"] == 90.0
    assert metrics["match"] == pytest.approx((100 + 70) / 2, abs=1e-5)
    assert "cache only" in metrics["judge"]


def test_sample_val_scores_end_to_end(tmp_path):
    from internvl_da.prep.drivelm import prepare_drivelm
    from internvl_da.prep.sample import generate_sample

    generate_sample(tmp_path / "s", seed=0, scale=1, show_progress=False)
    prepare_drivelm(tmp_path / "s/drivelm/v1_1_val_nus.json", tmp_path / "val.jsonl", "val")
    items = drivelm.load(tmp_path / "val.jsonl", tmp_path)
    # a model that answers the normalised GT: tags come back within a few pixels
    metrics = drivelm.score([drivelm.finalize({**i, "prediction": i["answer"]}) for i in items])
    assert metrics["accuracy"] == 1.0 and metrics["match_f1"] == pytest.approx(100, abs=1e-5)
    assert metrics["counts"]["skipped"] == 0
    assert all(metrics["counts"]["per_tag"][t]["scored"] > 0 for t in "0123")
    assert 0.4 < metrics["partial"] <= 0.5 and metrics["final"] is None


def test_score_accepts_the_challenge_submission_regression_invalid_json(tmp_path, capsys):
    """Regression (issue 10 item 5): `score drivelm` rejected DriveLM's own submission file
    (`prepare_submission.py`: an object with team metadata and a `results` list, written
    indented) as "invalid JSON". It scores like the bare output.json list."""
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"s": {"key_frames": {"f": {"QA": {"perception": [
        {"Q": "Important?", "A": "<c1,CAM_FRONT,100.0,200.0>", "tag": [3]},
        {"Q": "Is <c1,CAM_FRONT,100.0,200.0> moving?", "A": "Yes", "tag": [0]}]}}}}}))
    drivelm.write_submission(records(), tmp_path)
    results = json.loads((tmp_path / "output.json").read_text())
    submission = tmp_path / "submission.json"
    submission.write_text(json.dumps({"method": "m", "team": "t", "authors": ["a"],
                                      "email": "e", "institution": "i", "country": "c",
                                      "results": results}, indent=4))
    assert main(["score", "drivelm", str(submission), "--gt", str(gt)]) == 0
    from_submission = json.loads(capsys.readouterr().out)
    assert main(["score", "drivelm", str(tmp_path / "output.json"), "--gt", str(gt)]) == 0
    assert from_submission == json.loads(capsys.readouterr().out)
    assert from_submission["accuracy"] == 1.0
    submission.write_text(json.dumps({"method": "m", "results": {"id": "x"}}))
    with pytest.raises(ValueError, match=r"submission\.json: submission field 'results' is "
                                         "not a list"):
        score_file("drivelm", submission, gt=gt)


def test_load_reads_the_released_val_and_names_bad_lines(tmp_path):
    """The released `val/drivelm_val.jsonl` (no answer_old/tag): the gpt turn is the
    output.json `gt_answers`, stripped as the reference; a malformed line names file:line."""
    good = {"id": "s_f_0", "image": "s_f.jpg", "question_old": "Moving?",
            "conversations": [{"from": "human", "value": "Moving? "},
                              {"from": "gpt", "value": " No. "}]}
    ann = tmp_path / "drivelm_val.jsonl"
    ann.write_text(json.dumps(good) + "\n")
    (item,) = drivelm.load(ann, tmp_path / "stitch")
    assert item == {"id": "s_f_0", "question": "Moving?", "question_old": "Moving?",
                    "image": str(tmp_path / "stitch/s_f.jpg"), "answer": "No."}
    cases = [({k: v for k, v in good.items() if k != "question_old"},
              "missing field 'question_old'"),
             ({**good, "conversations": good["conversations"][:1]},
              "conversations needs the human and the gpt turn"),
             ({**good, "conversations": good["conversations"][::-1]},
              r"conversations\[0\] must be a 'human' turn"),
             ({**good, "id": 7}, "field 'id' must be str")]
    for row, message in cases:
        ann.write_text(json.dumps(good) + "\n\n" + json.dumps(row) + "\n")
        with pytest.raises(ValueError, match=rf"drivelm_val\.jsonl:3: {message}"):
            drivelm.load(ann, tmp_path)
