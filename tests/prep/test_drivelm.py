"""DriveLM QA conversion: ids, order, tag normalisation and its round trip, errors."""

from __future__ import annotations

import json
import re

import pytest

from internvl_da.cli import main
from internvl_da.data.coords import denormalize_tags
from internvl_da.data.errors import SampleError
from internvl_da.prep.drivelm import OBJECT_HINT, convert_drivelm

RAW = {"s1": {"scene_description": "", "key_frames": {"f1": {"QA": {
    "behavior": [{"Q": "Predict the behavior of the ego vehicle.", "A": "Going straight."}],
    "perception": [
        {"Q": "What are the important objects?",
         "A": "A car <c1,CAM_FRONT,1088.3,497.5> and <c2,CAM_BACK_LEFT,0.0,900.0>."},
        {"Q": "Is <c1,CAM_FRONT,1088.3,497.5> moving?", "A": "Yes."}],
    "planning": [{"Q": "What should the ego vehicle do?", "A": "Slow down."}],
    "prediction": [{"Q": "Will <c2,CAM_BACK_LEFT,0.0,900.0> move?", "A": "No."}],
}, "image_paths": {}}}}}


def test_ids_order_image_and_tags():
    records = convert_drivelm(RAW, "train")
    assert [r["id"] for r in records] == [f"s1_f1_{i}" for i in range(5)]
    assert all(r["image"] == "s1_f1.jpg" for r in records)
    questions = [r["conversations"][0]["value"] for r in records]
    # perception, prediction, planning, behavior — whatever the key order in the file.
    assert questions[1] == "<image>\nIs <c1,CAM_FRONT,[560,276]> moving?"
    assert questions[3] == "<image>\nWhat should the ego vehicle do?"
    assert questions[4].endswith("Predict the behavior of the ego vehicle.")
    assert "question_old" not in records[0]
    assert not re.search(r"<c\d,CAM_[A-Z_]+,\d", json.dumps(records))  # no raw tags left


def test_every_tag_round_trips_to_camera_pixels():
    original = re.findall(r"<c\d,(CAM_[A-Z_]+),([\d.]+),([\d.]+)>", json.dumps(RAW))
    converted = " ".join(r["conversations"][1]["value"] for r in convert_drivelm(RAW, "train"))
    back, unconverted = denormalize_tags(converted)
    assert unconverted == 0
    found = re.findall(r"<c\d,(CAM_[A-Z_]+),([\d.]+),([\d.]+)>", back)
    assert len(found) == 2
    for (cam, x, y), (cam2, x2, y2) in zip(sorted(set(original))[:2], sorted(found), strict=True):
        assert cam == cam2
        assert abs(float(x) - float(x2)) <= 2.4 and abs(float(y) - float(y2)) <= 1.0


def test_val_keeps_question_old_and_q_only_marked():
    val = convert_drivelm(RAW, "val")
    assert val[1]["question_old"] == "Is <c1,CAM_FRONT,1088.3,497.5> moving?"
    q_only = json.loads(json.dumps(RAW))
    for items in q_only["s1"]["key_frames"]["f1"]["QA"].values():
        for item in items:
            del item["A"]
    lines = convert_drivelm(q_only, "val")
    assert all(r["answer_available"] is False and r["conversations"][1]["value"] == ""
               for r in lines)
    with pytest.raises(SampleError, match="training item has no answer"):
        convert_drivelm(q_only, "train")


def test_object_hint_and_errors():
    assert OBJECT_HINT in convert_drivelm(RAW, object_hint=True)[0]["conversations"][0]["value"]
    bad = {"s": {"key_frames": {"f": {"QA": {"perception": [
        {"Q": "Is <c1,CAM_FRONT,abc,1> ok?", "A": "x"}]}}}}}
    with pytest.raises(SampleError, match="scene s frame f QA 0: malformed object tag"):
        convert_drivelm(bad)
    bad["s"]["key_frames"]["f"]["QA"]["perception"][0]["Q"] = "<c1,CAM_TOP,1.0,2.0>?"
    with pytest.raises(SampleError, match="QA 0: unknown camera 'CAM_TOP'"):
        convert_drivelm(bad)


def test_cli(tmp_path, capsys):
    ann = tmp_path / "raw.json"
    ann.write_text(json.dumps(RAW))
    out = tmp_path / "out" / "val.jsonl"
    assert main(["prep", "drivelm", "--ann-file", str(ann), "--out", str(out), "--split",
                 "val"]) == 0
    assert "wrote 5 lines" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 5
