"""Issue 11 item 4: `score` never scores a sample twice, nor an empty file as 0.0.

Duplicates moved RSVQA-LR Avg from 0.4409 to 0.5229 and DriveLM counted 106 items of 96; an
empty file printed `"overall": 0.0` with exit 0. Both are now errors naming the file (and, for
a duplicate, both places), in every format the scorers read.
"""

from __future__ import annotations

import json

import pytest

from internvl_da.cli import main
from internvl_da.eval.score import score_file


def _rsvqa(i, prediction="yes", answer="yes"):
    return {"id": i, "question": "q", "prediction": prediction, "answer": answer,
            "type": "presence"}


def _lines(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_duplicate_id_names_file_and_both_lines_regression_inflated_avg(tmp_path):
    """Scored as records, the repeated right answer of id 1 lifts the Avg from 0.5 to 0.67."""
    from internvl_da.eval import rsvqa

    rows = [_rsvqa(1), _rsvqa(2, "no"), _rsvqa(1)]
    assert rsvqa.score(rows)["avg"] == pytest.approx(2 / 3, abs=1e-4)
    assert score_file("rsvqa-lr", _lines(tmp_path / "ok.jsonl", rows[:2]))["avg"] == 0.5
    path = tmp_path / "p.jsonl"  # line 2 blank: lines are counted as an editor shows them
    path.write_text("\n".join([json.dumps(rows[0]), "", json.dumps(rows[1]),
                               json.dumps(rows[2])]) + "\n")
    with pytest.raises(ValueError, match=r"p\.jsonl: id 1 appears twice \(line 1 and line 4\): "
                                         r"each sample must be scored once"):
        score_file("rsvqa-lr", path)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file_is_an_error_not_zero(tmp_path, text, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text(text)
    for bench in ("rsvqa-lr", "dior-rsvg", "mme-realworld", "gmai", "drivelm"):
        with pytest.raises(ValueError, match=r"p\.jsonl: no predictions \(empty file\)"):
            score_file(bench, path)
    assert main(["score", "rsvqa-lr", str(path)]) == 1  # one line, no metrics printed
    captured = capsys.readouterr()
    assert captured.out == "" and "no predictions (empty file)" in captured.err


def _drivelm(i, answer="A"):
    return {"id": f"scene_{i}", "question": "q", "prediction": answer, "answer": answer,
            "question_old": "q", "answer_old": answer, "tag": [0]}


def test_drivelm_duplicates_in_each_format(tmp_path):
    rows = [_drivelm(0), _drivelm(1), _drivelm(0)]
    with pytest.raises(ValueError, match=r"p\.jsonl: id 'scene_0' appears twice \(line 1 and "
                                         r"line 3\)"):
        score_file("drivelm", _lines(tmp_path / "p.jsonl", rows))
    output = [{"id": r["id"], "question": "q", "answer": "A"} for r in rows]
    (tmp_path / "output.json").write_text(json.dumps(output))
    with pytest.raises(ValueError, match=r"output\.json: id 'scene_0' appears twice \(record 1 "
                                         r"and record 3\)"):
        score_file("drivelm", tmp_path / "output.json")
    (tmp_path / "submission.json").write_text(json.dumps({"method": "m", "results": output}))
    with pytest.raises(ValueError, match=r"submission\.json: id 'scene_0' appears twice"):
        score_file("drivelm", tmp_path / "submission.json")
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(ValueError, match=r"empty\.json: no predictions"):
        score_file("drivelm", tmp_path / "empty.json")


def test_drivelm_unique_file_still_scores(tmp_path):
    """Control: the check passes a file of distinct ids to DriveLM's scorer unchanged."""
    metrics = score_file("drivelm", _lines(tmp_path / "p.jsonl", [_drivelm(0), _drivelm(1)]))
    assert metrics["accuracy"] == 1.0
