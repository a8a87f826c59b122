"""DriveLM QA conversion: ids, order, tag normalisation and its round trip, errors."""

from __future__ import annotations

import copy
import json
import re

import pytest

from internvl_da.cli import main
from internvl_da.data.coords import denormalize_tags
from internvl_da.data.errors import SampleError
from internvl_da.prep.drivelm import OBJECT_HINT, convert_drivelm

# Parts deliberately out of order in the file: the output follows perception, prediction,
# planning, behavior.
RAW = {"s1": {"scene_description": "", "key_frames": {
    "f1": {"QA": {
        "behavior": [{"Q": "Predict the behavior of the ego vehicle.", "A": "Going straight."}],
        "perception": [
            {"Q": "What are the important objects?",
             "A": "A car <c1,CAM_FRONT,1088.3,497.5> and <c2,CAM_BACK_LEFT,0.0,900.0>."},
            {"Q": "Is <c1,CAM_FRONT,1088.3,497.5> moving?", "A": "Yes."}],
        "planning": [{"Q": "What should the ego vehicle do?", "A": "Slow down."}],
        "prediction": [{"Q": "Will <c3,CAM_BACK_RIGHT,1600.0,12.3> move?", "A": "No."}]},
        "image_paths": {}},
    "f2": {"QA": {"perception": [
        {"Q": "Where is <c1,CAM_FRONT_LEFT,33.3,444.4>?",
         "A": "Near <c1,CAM_FRONT_LEFT,33.3,444.4> and <c2,CAM_FRONT_RIGHT,1599.9,0.1>."}]}}}},
    "s2": {"key_frames": {"f9": {"QA": {"behavior": [{"Q": "Go?", "A": "Yes."}]}}}}}
TAG = re.compile(r"<c\d+,(CAM_[A-Z_]+),(\d+\.\d+),(\d+\.\d+)>")


def test_ids_order_and_image():
    records = convert_drivelm(RAW, "train")
    assert [r["id"] for r in records] == [f"s1_f1_{i}" for i in range(5)] + ["s1_f2_0", "s2_f9_0"]
    assert [r["image"] for r in records] == ["s1_f1.jpg"] * 5 + ["s1_f2.jpg", "s2_f9.jpg"]
    questions = [r["conversations"][0]["value"] for r in records[:5]]
    assert questions == [
        "<image>\nWhat are the important objects?",
        "<image>\nIs <c1,CAM_FRONT,[560,276]> moving?",
        "<image>\nWill <c3,CAM_BACK_RIGHT,[1000,507]> move?",
        "<image>\nWhat should the ego vehicle do?",
        "<image>\nPredict the behavior of the ego vehicle."]
    assert [r["conversations"][1]["value"] for r in records[:5]] == [
        "A car <c1,CAM_FRONT,[560,276]> and <c2,CAM_BACK_LEFT,[0,1000]>.", "Yes.", "No.",
        "Slow down.", "Going straight."]
    assert all(r["conversations"][0]["from"] == "human" and r["conversations"][1]["from"] == "gpt"
               for r in records)
    assert all("question_old" not in r and "answer_available" not in r for r in records)
    assert not TAG.search(json.dumps(records))  # no raw tags left
    assert convert_drivelm(RAW, image_ext=".png")[0]["image"] == "s1_f1.png"


def test_every_tag_round_trips_to_camera_pixels():
    original = TAG.findall(json.dumps(RAW))
    for decimals, tol_x, tol_y in ((2, 0.1, 0.1), (0, 2.44, 0.96)):
        records = convert_drivelm(RAW, "train", decimals=decimals)
        text = " ".join(t["value"] for r in records for t in r["conversations"])
        back, unconverted = denormalize_tags(text)
        assert unconverted == 0
        found = TAG.findall(back)
        assert len(found) == len(original) == 7
        for (cam, x, y), (cam2, x2, y2) in zip(original, found, strict=True):
            assert cam2 == cam
            assert abs(float(x2) - float(x)) <= tol_x + 1e-9
            assert abs(float(y2) - float(y)) <= tol_y + 1e-9
        if decimals == 2:
            assert found == original  # two decimals reproduce every one-decimal value exactly


def test_val_keeps_question_old_and_q_only_is_marked():
    val = convert_drivelm(RAW, "val")
    assert val[1]["question_old"] == "Is <c1,CAM_FRONT,1088.3,497.5> moving?"
    assert val[1]["conversations"][1]["value"] == "Yes." and "answer_available" not in val[1]
    q_only = copy.deepcopy(RAW)
    for scene in q_only.values():
        for frame in scene["key_frames"].values():
            for items in frame["QA"].values():
                for item in items:
                    del item["A"]
    lines = convert_drivelm(q_only, "val")
    assert [r["id"] for r in lines] == [r["id"] for r in val]
    assert all(r["answer_available"] is False and r["conversations"][1]["value"] == ""
               for r in lines)
    with pytest.raises(SampleError, match="scene s1 frame f1 QA 0: training item has no answer"):
        convert_drivelm(q_only, "train")


def test_object_hint_is_a_parameter():
    human = convert_drivelm(RAW, object_hint=True)[1]["conversations"][0]["value"]
    assert human == "<image>\n" + OBJECT_HINT + "Is <c1,CAM_FRONT,[560,276]> moving?"
    assert OBJECT_HINT.startswith("Objects are encoded using <c, CAM, [cx,cy]>")


def test_errors_name_scene_frame_and_qa_index():
    def bad(qa):
        return {"s": {"key_frames": {"f": {"QA": {"perception": [{"Q": "ok", "A": "ok"}, qa]}}}}}

    cases = [({"Q": "Is <c1,CAM_FRONT,abc,1> ok?", "A": "x"}, "malformed object tag"),
             ({"Q": "<c1,CAM_TOP,1.0,2.0>?", "A": "x"}, "unknown camera 'CAM_TOP'"),
             ({"Q": "q", "A": "<c1,CAM_FRONT,1.0>"}, "malformed object tag"),
             ({"A": "x"}, "missing question 'Q'"),
             ({"Q": "q", "A": 3}, "answer 'A' is not a string"),
             ("text", "missing question 'Q'")]
    for qa, reason in cases:
        with pytest.raises(SampleError, match=r"^raw\.json: scene s frame f QA 1: " + reason):
            convert_drivelm(bad(qa), source="raw.json")
    with pytest.raises(SampleError, match="scene s frame f: no 'QA' object"):
        convert_drivelm({"s": {"key_frames": {"f": {"image_paths": {}}}}})
    with pytest.raises(SampleError, match="scene s frame f: QA 'planning' is not a list"):
        convert_drivelm({"s": {"key_frames": {"f": {"QA": {"planning": {}}}}}})
    with pytest.raises(SampleError, match="scene s: no 'key_frames' object"):
        convert_drivelm({"s": {}})
    with pytest.raises(ValueError, match="split"):
        convert_drivelm(RAW, "test")


def test_cli(tmp_path, capsys):
    ann = tmp_path / "raw.json"
    ann.write_text(json.dumps(RAW))
    out = tmp_path / "out" / "val.jsonl"
    assert main(["prep", "drivelm", "--ann-file", str(ann), "--out", str(out), "--split",
                 "val", "--image-ext", ".png", "--object-hint"]) == 0
    assert "wrote 7 lines" in capsys.readouterr().out
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == convert_drivelm(RAW, "val", True, image_ext=".png")
    first = out.read_bytes()
    assert main(["prep", "drivelm", "--ann-file", str(ann), "--out", str(out), "--split",
                 "val", "--image-ext", ".png", "--object-hint"]) == 0
    assert out.read_bytes() == first  # same inputs, same bytes


def test_val_carries_the_scorer_gt_and_tags():
    raw = copy.deepcopy(RAW)
    raw["s1"]["key_frames"]["f1"]["QA"]["perception"][0]["tag"] = [2, 3]
    val = convert_drivelm(raw, "val")
    assert val[0]["answer_old"] == RAW["s1"]["key_frames"]["f1"]["QA"]["perception"][0]["A"]
    assert val[0]["tag"] == [2, 3] and "tag" not in val[1]
    assert "answer_old" not in convert_drivelm(raw, "train")[0]
    raw["s1"]["key_frames"]["f1"]["QA"]["perception"][0]["tag"] = ["2"]
    with pytest.raises(SampleError, match="scene s1 frame f1 QA 0: 'tag' must be a list"):
        convert_drivelm(raw, "val")
