"""`internvl-da score`: metrics from a file, per-record details, errors at the line."""

from __future__ import annotations

import json

import pytest

from internvl_da.cli import main
from internvl_da.eval.score import score_file


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rsvqa_and_details(tmp_path, capsys):
    preds = write(tmp_path / "p.jsonl", [
        {"id": 1, "question": "q", "prediction": "Yes", "answer": "yes", "type": "presence"},
        {"id": 2, "question": "q", "prediction": "12", "answer": "3", "type": "count"}])
    assert main(["score", "rsvqa-lr", str(preds), "--details", str(tmp_path / "d.jsonl")]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["per_type"] == {"count": 1.0, "presence": 1.0} and metrics["avg"] == 1.0
    details = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert details == [{"id": 1, "correct": True}, {"id": 2, "correct": True}]


def test_dior_details_have_box_and_iou(tmp_path):
    preds = write(tmp_path / "p.jsonl", [
        {"id": 0, "question": "Detect", "prediction": "<box>[[125, 125, 375, 375]]</box>",
         "answer": [100, 100, 299, 299], "image_size": [800, 800]}])
    assert score_file("dior-rsvg", preds, tmp_path / "d.jsonl")["correct"] == 1
    row = json.loads((tmp_path / "d.jsonl").read_text())
    assert row["box"] == [100.0, 100.0, 300.0, 300.0] and row["iou"] > 0.5


@pytest.mark.parametrize("rows,reason", [
    ([{"id": 1, "prediction": "yes", "type": "presence"}], r"p\.jsonl:1: missing field 'answer'"),
    ([{"id": 1, "prediction": 5, "answer": "yes", "type": "presence"}],
     r"p\.jsonl:1: field 'prediction' has type int"),
])
def test_bad_records_name_the_line(tmp_path, rows, reason):
    with pytest.raises(ValueError, match=reason):
        score_file("rsvqa-lr", write(tmp_path / "p.jsonl", rows))


def test_unknown_benchmark_lists_names(tmp_path):
    with pytest.raises(ValueError, match="choose from"):
        score_file("vqav2", write(tmp_path / "p.jsonl", []))


def test_drivelm_options_only_for_drivelm(tmp_path, capsys):
    preds = write(tmp_path / "p.jsonl", [
        {"id": 1, "question": "q", "prediction": "yes", "answer": "yes", "type": "presence"}])
    with pytest.raises(ValueError, match=r"options \['gt'\] do not apply to 'rsvqa-lr'"):
        score_file("rsvqa-lr", preds, gt=tmp_path / "gt.json")
    # the CLI says an expected error in one line (issue 11 item 12) and exits 1
    assert main(["score", "rsvqa-lr", str(preds), "--gt", "gt.json"]) == 1
    assert "--gt applies only to drivelm, --judge-* to drivelm" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"choose from \[.*'drivelm'"):
        score_file("vqav2", preds)


def test_mme_extractor_option_reaches_the_scorer(tmp_path):
    from internvl_da.eval.score import score_file

    record = {"id": 1, "question": "q", "prediction": "Best answer: C", "answer": "C",
              "choices": ["(A) a", "(B) b", "(C) c", "(D) d", "(E) e"], "task": "Perception",
              "category": "c"}
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert score_file("mme-realworld", path)["overall"] == 1.0  # internvl: C
    official = score_file("mme-realworld", path, extractor="official")
    assert official["overall"] == 0.0 and official["extractor"] == "official"  # 'B' of "Best"
    with pytest.raises(ValueError, match="do not apply to 'rsvqa-lr'"):
        score_file("rsvqa-lr", path, extractor="official")


def test_gmai_judge_cache_replays_from_the_command_line(tmp_path, capsys, monkeypatch):
    from internvl_da.eval.gmai import judge_prompt

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # replay only, no network
    choices = {"A": "left", "B": "both sides"}
    record = {"id": 2, "question": "prompt", "raw_question": "Where", "answer": "B",
              "prediction": "on each side", "choices": choices}
    preds = write(tmp_path / "p.jsonl", [record])
    cache = tmp_path / "judge.jsonl"
    cache.write_text(json.dumps({"prompt": judge_prompt("Where", choices, "on each side"),
                                 "reply": "B"}) + "\n")
    assert main(["score", "gmai", str(preds)]) == 0
    assert json.loads(capsys.readouterr().out)["overall"] == 0.0  # rules alone: Z
    assert main(["score", "gmai", str(preds), "--judge-cache", str(cache)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overall"] == 1.0 and "gpt-3.5-turbo-0125" in out["judge"]


def test_every_benchmark_has_a_scorer():
    """`internvl-da score` (MODULES, FILE_SCORERS) re-scores exactly the benchmarks the runner
    evaluates (eval/benchmarks.py): a new benchmark cannot be left out of one of the two."""
    from internvl_da.eval import score
    from internvl_da.eval.benchmarks import BENCHMARKS

    assert set(score.MODULES) | set(score.FILE_SCORERS) == set(BENCHMARKS)
    assert not set(score.MODULES) & set(score.FILE_SCORERS)
