"""RSVQA and DIOR-RSVG conversion: records, prompts, counted skips, clear errors."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from internvl_da.cli import main
from internvl_da.data.errors import SampleError
from internvl_da.data.validate import check_jsonl
from internvl_da.prep import remote

QUESTIONS = [
    {"id": 10, "img_id": 1, "type": "presence", "question": "Is there a road?",
     "answers_ids": [10], "active": True},
    {"id": 11, "img_id": 1, "type": "count", "question": "How many buildings?",
     "answers_ids": [11], "active": True},
    {"id": 12, "img_id": 1, "type": "comp", "question": "Old?", "answers_ids": [12],
     "active": False},
    {"id": 13, "img_id": 2, "type": "presence", "question": "Water?", "answers_ids": [13],
     "active": True},
]
ANSWERS = [{"id": i, "question_id": i, "answer": a, "active": True}
           for i, a in ((10, "yes"), (11, "3"), (12, "no"), (13, "no"))]
IMAGES = [{"id": 1, "questions_ids": [10, 11, 12], "active": True},
          {"id": 2, "questions_ids": [13], "active": False}]


def test_rsvqa_train_and_test_records():
    train, skipped = remote.convert_rsvqa(QUESTIONS, ANSWERS, IMAGES, training=True)
    assert skipped == {"inactive question": 1, "inactive image": 1}
    assert train[0] == {"id": "rsvqa_10", "image": "1.tif", "conversations": [
        {"from": "human",
         "value": "<image>\nIs there a road?\nAnswer the question using a single word or phrase."},
        {"from": "gpt", "value": "yes"}]}
    test, _ = remote.convert_rsvqa(QUESTIONS, ANSWERS, IMAGES, training=False)
    assert test[1] == {"id": 11, "image": "1.tif", "question": "How many buildings?",
                       "gt_answer": "3", "type": "count"}


def test_rsvqa_errors():
    with pytest.raises(SampleError, match="question 10: unknown image id 1"):
        remote.convert_rsvqa(QUESTIONS[:1], ANSWERS, [], training=True, source="q.json")
    inactive_answer = [dict(ANSWERS[0], active=False)]
    with pytest.raises(SampleError, match="question 10: no active answer"):
        remote.convert_rsvqa(QUESTIONS[:1], inactive_answer, IMAGES, training=True)


def test_rsvqa_files_and_cli(tmp_path, capsys):
    for key, rows in (("questions", QUESTIONS), ("answers", ANSWERS), ("images", IMAGES)):
        (tmp_path / f"LR_split_train_{key}.json").write_text(json.dumps({key: rows}))
    (tmp_path / "Images_LR").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "Images_LR" / "1.tif")
    out = tmp_path / "train.jsonl"
    assert main(["prep", "rsvqa", "--raw-dir", str(tmp_path), "--variant", "lr", "--split",
                 "train", "--out", str(out)]) == 0
    assert "wrote 2 records" in capsys.readouterr().out
    assert check_jsonl(out, tmp_path / "Images_LR") == []
    with pytest.raises(SampleError, match=r"USGS_split_train_questions\.json: file not found"):
        remote.prepare_rsvqa(tmp_path, "hr", "train", tmp_path / "x.jsonl")


XML = ("<annotation><filename>00001.jpg</filename><size><width>800</width><height>600</height>"
       "</size><object><name>vehicle</name><bndbox><xmin>312</xmin><ymin>280</ymin>"
       "<xmax>505</xmax><ymax>470</ymax></bndbox><description>the red car</description>"
       "</object><object><name>ship</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>80</xmax>"
       "<ymax>60</ymax></bndbox><description>a ship &amp; a dock</description></object>"
       "</annotation>")


@pytest.fixture()
def dior(tmp_path):
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "Annotations" / "00001.xml").write_text(XML)
    Image.new("RGB", (800, 600)).save(tmp_path / "JPEGImages" / "00001.jpg")
    for split in ("train", "test"):
        (tmp_path / f"{split}.txt").write_text("00001\n")
    return tmp_path


def test_dior_train_and_test(dior, tmp_path):
    assert remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl") == 2
    first = json.loads((tmp_path / "t.jsonl").read_text().splitlines()[0])
    assert first["image"] == "JPEGImages/00001.jpg"
    assert first["conversations"][0]["value"] == "<image>\nDetect <ref>the red car</ref>"
    assert first["conversations"][1]["value"] == \
        "<ref>the red car</ref><box>[[390, 467, 631, 783]]</box>"
    assert check_jsonl(tmp_path / "t.jsonl", dior) == []
    remote.prepare_dior_rsvg(dior, "test", tmp_path / "test.json")
    test = json.loads((tmp_path / "test.json").read_text())
    assert test[1] == {"image": "JPEGImages/00001.jpg", "prompt": "<ref>a ship & a dock</ref>",
                       "bbox": [0, 0, 80, 60], "size": [800, 600]}


@pytest.mark.parametrize("xml,reason", [
    ("<annotation><size>", "malformed XML"),
    (XML.replace("<description>the red car</description>", ""), "object 0: missing <description>"),
    (XML.replace("<xmax>505</xmax>", "<xmax>900</xmax>"), "object 0: box .* invalid"),
    (XML.replace("<xmax>505</xmax>", "<xmax>300</xmax>"), "object 0: box .* invalid"),
    (XML.replace("<width>800</width>", "<width>wide</width>"), "non-numeric"),
])
def test_dior_errors_name_the_file(dior, tmp_path, xml, reason):
    (dior / "Annotations" / "00001.xml").write_text(xml)
    with pytest.raises(SampleError, match=reason) as exc:
        remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl")
    assert "00001.xml" in str(exc.value)
