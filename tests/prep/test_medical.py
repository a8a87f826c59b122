"""Medical JSONL: the shared validator's problems plus a summary of kinds, QA pairs, folders."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from internvl_da.data.errors import SampleError
from internvl_da.prep.medical import summarise_jsonl, validate_medical


def _qa(q="<image>\nIs there a lesion?", a="yes"):
    return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]


@pytest.fixture()
def medical(tmp_path):
    for rel in ("pmc/a.jpg", "pmc/b.jpg", "slake/c.jpg", "d.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), (90, 90, 90)).save(tmp_path / rel)
    rows = [
        {"id": 0, "image": "pmc/a.jpg", "conversations": _qa() + _qa("Which side?", "left")},
        {"id": 1, "image": ["pmc/b.jpg", "slake/c.jpg"],
         "conversations": _qa("<image>\n<image>\nSame organ?", "no")},
        {"id": 2, "image": "d.jpg", "conversations": _qa()},
        {"id": 3, "conversations": _qa("What is a CT scan?", "An X-ray tomography.")},
    ]
    path = tmp_path / "medical_sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    return path


def test_summary_counts(medical):
    summary = summarise_jsonl(medical)
    assert summary.lines == 4
    assert summary.kinds == {"single": 2, "multi": 1, "text": 1}
    assert summary.qa_pairs == 5
    assert summary.folders == {"pmc": 2, "slake": 1, ".": 1}
    assert "4 lines (multi 1, single 2, text 1), 5 QA pairs" in str(summary)


def test_validate_reports_problems_with_file_and_line(medical, tmp_path):
    clean = validate_medical(medical, tmp_path)
    assert clean.problems == [] and "no problems" in str(clean)
    (tmp_path / "slake" / "c.jpg").unlink()
    with open(medical, "a") as handle:
        handle.write("{not json\n")
    check = validate_medical(medical, tmp_path)
    assert check.summary.kinds["unparsed"] == 1
    assert [(p.line, p.reason.split(":")[0]) for p in check.problems] == \
        [(2, "image file not found"), (6, "invalid JSON")]
    with pytest.raises(SampleError, match=r"missing\.jsonl: file not found"):
        validate_medical(tmp_path / "missing.jsonl", tmp_path)
