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
    {"id": 14, "img_id": 3, "type": "area", "question": "What is the area of roads?",
     "answers_ids": [15, 14], "active": True},
]
ANSWERS = [{"id": i, "question_id": q, "answer": a, "active": i != 15}
           for i, q, a in ((10, 10, "yes"), (11, 11, "3"), (12, 12, "no"), (13, 13, "no"),
                           (14, 14, "1232m2"), (15, 14, "0m2"))]
IMAGES = [{"id": 1, "questions_ids": [10, 11, 12], "active": True},
          {"id": 2, "questions_ids": [13], "active": False},
          {"id": 3, "questions_ids": [14], "active": True}]
# evaluation.md §3.2, written out rather than imported so a changed constant fails here
EVAL_SUFFIX = "\nAnswer the question using a single word or phrase."


def test_rsvqa_train_records_use_the_eval_prompt_and_count_skips():
    train, skipped = remote.convert_rsvqa(QUESTIONS, ANSWERS, IMAGES, training=True,
                                          id_prefix="rsvqa_lr")
    assert skipped == {"inactive questions": 1, "questions on inactive images": 1,
                       "inactive answers": 1, "inactive images": 1}
    assert [r["id"] for r in train] == ["rsvqa_lr_10", "rsvqa_lr_11", "rsvqa_lr_14"]
    assert train[0] == {"id": "rsvqa_lr_10", "image": "1.tif", "conversations": [
        {"from": "human", "value": "<image>\nIs there a road?" + EVAL_SUFFIX},
        {"from": "gpt", "value": "yes"}]}
    assert train[2]["conversations"][1]["value"] == "1232m2"  # first *active* answer


def test_rsvqa_test_records_follow_evaluation_spec():
    test, _ = remote.convert_rsvqa(QUESTIONS, ANSWERS, IMAGES, training=False, image_ext=".png")
    assert test == [
        {"id": 10, "image": "1.png", "question": "Is there a road?", "gt_answer": "yes",
         "type": "presence"},
        {"id": 11, "image": "1.png", "question": "How many buildings?", "gt_answer": "3",
         "type": "count"},
        {"id": 14, "image": "3.png", "question": "What is the area of roads?",
         "gt_answer": "1232m2", "type": "area"}]


@pytest.mark.parametrize("questions,answers,images,reason", [
    (QUESTIONS[:1], ANSWERS, [], "question 10: unknown image id 1"),
    (QUESTIONS[:1], [dict(ANSWERS[0], active=False)], IMAGES, "question 10: no active answer"),
    (QUESTIONS[:1], ANSWERS[1:], IMAGES, "question 10: answer id 10 not in answers file"),
    ([{k: v for k, v in QUESTIONS[0].items() if k != "question"}], ANSWERS, IMAGES,
     "question 10: missing 'question'"),
    (QUESTIONS[:2] + QUESTIONS[:1], ANSWERS, IMAGES, "question 10: duplicate id"),
])
def test_rsvqa_errors_name_file_and_question(questions, answers, images, reason):
    with pytest.raises(SampleError, match=reason) as exc:
        remote.convert_rsvqa(questions, answers, images, training=True, source="q.json")
    assert str(exc.value).startswith("q.json: ")


def _write_rsvqa(raw, prefix, image_dir, with_images=True):
    for key, rows in (("questions", QUESTIONS), ("answers", ANSWERS), ("images", IMAGES)):
        (raw / f"{prefix}_{key}.json").write_text(json.dumps({key: rows}))
    (raw / image_dir).mkdir(exist_ok=True)
    for img_id in (1, 3) if with_images else ():
        Image.new("RGB", (32, 32), (img_id, 0, 0)).save(raw / image_dir / f"{img_id}.tif")


def test_rsvqa_cli_lr_train_passes_the_validator(tmp_path, capsys):
    _write_rsvqa(tmp_path, "LR_split_train", "Images_LR")
    out = tmp_path / "train.jsonl"
    argv = ["prep", "rsvqa", "--raw-dir", str(tmp_path), "--variant", "lr", "--split", "train",
            "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "wrote 3 records" in printed and "inactive questions: 1" in printed
    assert check_jsonl(out, tmp_path / "Images_LR") == []
    first = out.read_bytes()
    assert main(argv) == 0 and out.read_bytes() == first  # same inputs -> same bytes


def test_rsvqa_hr_test2_json_and_file_errors(tmp_path):
    _write_rsvqa(tmp_path, "USGS_split_test_phili", "Data")
    n, skipped = remote.prepare_rsvqa(tmp_path, "hr", "test_phili", tmp_path / "t2.json")
    assert n == 3 and skipped["inactive questions"] == 1
    records = json.loads((tmp_path / "t2.json").read_text())
    assert [r["id"] for r in records] == [10, 11, 14] and records[0]["image"] == "1.tif"
    with pytest.raises(SampleError, match=r"USGS_split_train_questions\.json: file not found"):
        remote.prepare_rsvqa(tmp_path, "hr", "train", tmp_path / "x.jsonl")
    with pytest.raises(ValueError, match="lr splits"):
        remote.prepare_rsvqa(tmp_path, "lr", "test_phili", tmp_path / "x.json")
    (tmp_path / "Data" / "3.tif").unlink()
    with pytest.raises(SampleError, match=r"questions\.json: image 3\.tif not found"):
        remote.prepare_rsvqa(tmp_path, "hr", "test_phili", tmp_path / "t2.json")
    assert remote.prepare_rsvqa(tmp_path, "hr", "test_phili", tmp_path / "t2.json",
                                check_images=False)[0] == 3


XML = ("<annotation><filename>00001.jpg</filename><size><width>800</width><height>600</height>"
       "</size><object><name>vehicle</name><bndbox><xmin>312</xmin><ymin>280</ymin>"
       "<xmax>505</xmax><ymax>470</ymax></bndbox><description>the red car</description>"
       "</object><object><name>ship</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>80</xmax>"
       "<ymax>60</ymax></bndbox><description>a ship &amp; a dock</description></object>"
       "</annotation>")
XML2 = ("<annotation><size><width>400</width><height>400</height></size><object><bndbox>"
        "<xmin>10</xmin><ymin>20</ymin><xmax>30</xmax><ymax>40</ymax></bndbox>"
        "<description>a tank</description></object></annotation>")


@pytest.fixture()
def dior(tmp_path):
    root = tmp_path / "dior"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "Annotations" / "00001.xml").write_text(XML)
    (root / "Annotations" / "00002.xml").write_text(XML2)
    Image.new("RGB", (800, 600)).save(root / "JPEGImages" / "00001.jpg")
    Image.new("RGB", (400, 400)).save(root / "JPEGImages" / "00002.jpg")
    for split in ("train", "test"):
        (root / f"{split}.txt").write_text("00001\n")
    return root


def _expected_box(box, w, h):
    # independent of coords.normalize_box: InternVL's x*1000/W rounded to an integer
    return [round(box[0] / w * 1000), round(box[1] / h * 1000), round(box[2] / w * 1000),
            round(box[3] / h * 1000)]


def test_dior_train_jsonl(dior, tmp_path):
    assert remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl") == 2
    lines = [json.loads(s) for s in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert _expected_box([312, 280, 505, 470], 800, 600) == [390, 467, 631, 783]
    assert lines[0] == {"id": "dior_00001_0", "image": "JPEGImages/00001.jpg", "conversations": [
        {"from": "human", "value": "<image>\nDetect <ref>the red car</ref>"},
        {"from": "gpt", "value": "<ref>the red car</ref><box>[[390, 467, 631, 783]]</box>"}]}
    assert lines[1]["conversations"][1]["value"] == \
        "<ref>a ship & a dock</ref><box>[[0, 0, 100, 100]]</box>"
    assert check_jsonl(tmp_path / "t.jsonl", dior) == []


def test_dior_test_records_and_cli(dior, tmp_path, capsys):
    out = tmp_path / "test.json"
    assert main(["prep", "dior-rsvg", "--root", str(dior), "--split", "test", "--out", str(out),
                 "--image-prefix", "DIOR-RSVG/"]) == 0
    assert "wrote 2 records" in capsys.readouterr().out
    assert json.loads(out.read_text()) == [
        {"image": "DIOR-RSVG/JPEGImages/00001.jpg", "prompt": "<ref>the red car</ref>",
         "bbox": [312, 280, 505, 470], "size": [800, 600]},
        {"image": "DIOR-RSVG/JPEGImages/00001.jpg", "prompt": "<ref>a ship & a dock</ref>",
         "bbox": [0, 0, 80, 60], "size": [800, 600]}]


def test_dior_object_index_split(dior, tmp_path):
    # RSVG-pytorch split files: global object indices over the sorted annotation files
    (dior / "train.txt").write_text("2\n1\n")
    remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl", split_format="objects")
    lines = [json.loads(s) for s in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == ["dior_00001_1", "dior_00002_0"]
    assert lines[1]["conversations"][1]["value"].endswith("[[25, 50, 75, 100]]</box>")
    (dior / "train.txt").write_text("0\n3\n")
    with pytest.raises(SampleError, match=r"train\.txt:2: object index 3 outside 0\.\.2"):
        remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl", split_format="objects")


@pytest.mark.parametrize("xml,reason", [
    ("<annotation><size>", "malformed XML"),
    (XML.replace("<description>the red car</description>", ""), "object 0: missing <description>"),
    (XML.replace("<xmax>505</xmax>", "<xmax>900</xmax>"), "object 0: box .* invalid"),
    (XML.replace("<xmax>505</xmax>", "<xmax>300</xmax>"), "object 0: box .* invalid"),
    (XML.replace("<ymax>60</ymax>", "<ymax>0</ymax>"), "object 1: box .* invalid"),
    (XML.replace("<ymin>280</ymin>", ""), "object 0: missing <bndbox/ymin>"),
    (XML.replace("<xmin>312</xmin>", "<xmin>312.5</xmin>"), "object 0: .* not an integer"),
    (XML.replace("<width>800</width>", "<width>wide</width>"), "image: .* not a number"),
    (XML.replace("<height>600</height>", ""), "image: missing <size/height>"),
    ("<annotation><size><width>800</width><height>600</height></size></annotation>",
     "no <object>"),
    (XML.replace("<width>800</width>", "<width>900</width>"), r"<size> \[900, 600\] differs"),
])
def test_dior_errors_name_the_file(dior, tmp_path, xml, reason):
    (dior / "Annotations" / "00001.xml").write_text(xml)
    with pytest.raises(SampleError, match=reason) as exc:
        remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl")
    assert str(exc.value).startswith(str(dior / "Annotations" / "00001.xml"))


def test_dior_split_file_errors(dior, tmp_path):
    (dior / "train.txt").write_text("00001\n00002\n00001\n")
    with pytest.raises(SampleError, match=r"train\.txt:3: stem 00001 repeats line 1"):
        remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl")
    with pytest.raises(SampleError, match=r"val\.txt: split file not found"):
        remote.prepare_dior_rsvg(dior, "val", tmp_path / "v.json")
    (dior / "train.txt").write_text("00003\n")  # a number without an xml: read as an index
    with pytest.raises(SampleError, match=r"train\.txt:1: object index 3 outside 0\.\.2 \(if "
                                          r"train\.txt lists image stems, pass --split-format "
                                          "stems"):
        remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl")
    with pytest.raises(SampleError, match=r"train\.txt:1: Annotations/00003\.xml not found; if "
                                          r"train\.txt lists object indices .* pass "
                                          "--split-format objects"):
        remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl", split_format="stems")
    (dior / "train.txt").write_text("00001\nimage_7\n")
    with pytest.raises(SampleError, match=r"train\.txt:2: 'image_7' is neither an image stem "
                                          r".* --split-format stems\|objects"):
        remote.prepare_dior_rsvg(dior, "train", tmp_path / "t.jsonl")


def test_dior_split_format_is_detected_regression_issue_10(dior, tmp_path):
    """Issue 10: `prep dior-rsvg` assumed image stems, while the RSVG-pytorch split files list
    object indices, and the error did not point at --split-format objects. Auto-detection:
    stems when every line has an Annotations/<line>.xml, indices when every line is a number."""
    (dior / "train.txt").write_text("00002\n")
    assert remote.detect_split_format(dior, "train") == "stems"
    (dior / "train.txt").write_text("2\n1\n")
    assert remote.detect_split_format(dior, "train") == "objects"
    remote.prepare_dior_rsvg(dior, "train", tmp_path / "auto.jsonl")
    remote.prepare_dior_rsvg(dior, "train", tmp_path / "objects.jsonl", split_format="objects")
    assert (tmp_path / "auto.jsonl").read_bytes() == (tmp_path / "objects.jsonl").read_bytes()
