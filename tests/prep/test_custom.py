"""prep/custom.py: every bad-row kind is a named problem at its line; the split is by image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from internvl_da.prep.custom import (
    CAPTION_PROMPT,
    PROBLEM_KINDS,
    TableError,
    prepare_custom,
    split_images,
)


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for k in range(6):
        Image.new("RGB", (100, 50), (10 * k, 0, 0)).save(folder / f"im{k}.png")
    (folder / "broken.jpg").write_bytes(b"not an image")
    return folder


def _csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _problem(table: Path, images: Path, task: str, out: Path) -> tuple[int, str, str]:
    with pytest.raises(TableError) as caught:
        prepare_custom(table, images, task, out)
    assert len(caught.value.problems) == 1, caught.value
    p = caught.value.problems[0]
    assert f"{table}:{p.line}: " in str(caught.value) or p.line is None
    return p.line, p.kind, p.reason


GOOD_VQA = ["im0.png,What?,yes", "im1.png,What?,no", "im2.png,What?,no"]
CASES = [  # (task, table kind, header or None (JSONL), bad row, kind, reason part)
    ("vqa", ",", "image,question,answer", "im0.png,,yes", "missing-field", "'question'"),
    ("vqa", ",", "image,question,answer", "../im0.png,Q?,yes", "bad-image-path", "inside"),
    ("vqa", ",", "image,question,answer", "nope.png,Q?,yes", "image-missing", "not found"),
    ("vqa", ",", "image,question,answer", "broken.jpg,Q?,yes", "image-unreadable", "decode"),
    ("vqa", ",", "image,question,answer", "im0.png,Q?,yes,extra", "bad-table", "4 values"),
    ("grounding", ",", "image,phrase,x1,y1,x2,y2", "im0.png,a dot,1,2,a,4", "bad-box", "numbers"),
    ("grounding", ",", "image,phrase,x1,y1,x2,y2", "im0.png,a dot,5,2,3,4", "bad-box", "x1 < x2"),
    ("grounding", ",", "image,phrase,x1,y1,x2,y2", "im0.png,a dot,1,2,101,4", "box-outside",
     "100x50"),
    ("mcq", ",", "image,question,A,B,answer", "im0.png,Q?,red,,A", "bad-choices", "at least two"),
    ("mcq", ",", "image,question,A,B,C,answer", "im0.png,Q?,red,,blue,A", "bad-choices",
     "gaps"),
    ("mcq", ",", "image,question,A,B,answer", "im0.png,Q?,red,Red,A", "bad-choices", "same text"),
    ("mcq", ",", "image,question,A,B,answer", "im0.png,Q?,red,None,A", "bad-choices", "NaN"),
    ("mcq", ",", "image,question,A,B,answer", "im0.png,Q?,red,blue,C", "bad-answer", "C"),
    ("vqa", ",", "image,question,answer,split", "im0.png,Q?,yes,dev", "bad-split", "'dev'"),
    ("vqa", ",", "id,image,question,answer", "x,im0.png,Q?,yes", "duplicate-id", "'x'"),
]


@pytest.mark.parametrize(("task", "sep", "header", "bad", "kind", "part"), CASES,
                         ids=[c[4] + "-" + c[5] for c in CASES])
def test_each_bad_row_kind_is_named_at_its_line(tmp_path, images, task, sep, header, bad, kind,
                                                part):
    good = {"vqa": ["im1.png,Q?,no", "im2.png,Q?,no"],
            "grounding": ["im1.png,a dot,1,2,3,4", "im2.png,a dot,1,2,3,4"],
            "mcq": ["im1.png,Q?,red,blue,A", "im2.png,Q?,red,blue,B"]}[task]
    if header.startswith("id,"):
        good = ["x,im1.png,Q?,no", "y,im2.png,Q?,no"]
    if ",C," in header:  # an empty cell is an absent choice
        good = ["im1.png,Q?,red,blue,,A", "im2.png,Q?,red,blue,,B"]
    if header.endswith("split"):
        good = ["im1.png,Q?,no,train", "im2.png,Q?,no,test"]
    table = _csv(tmp_path / "t.csv", header, [*good, bad])
    line, found, reason = _problem(table, images, task, tmp_path / "out")
    assert (line, found) == (4, kind)
    assert part in reason
    assert found in PROBLEM_KINDS


def test_jsonl_bad_lines_partial_and_conflicting_splits(tmp_path, images):
    ok = {"image": "im0.png", "question": "Q?", "answer": "yes"}
    table = _jsonl(tmp_path / "t.jsonl", [ok, "{oops", "[1]"])
    with pytest.raises(TableError) as caught:
        prepare_custom(table, images, "vqa", tmp_path / "o")
    assert [(p.line, p.kind) for p in caught.value.problems] == [(2, "bad-json"), (3, "bad-json")]
    partial = _jsonl(tmp_path / "p.jsonl", [{**ok, "split": "train"}, {**ok, "image": "im1.png"}])
    assert _problem(partial, images, "vqa", tmp_path / "o")[:2] == (2, "partial-split")
    both = _jsonl(tmp_path / "b.jsonl", [{**ok, "split": "train"}, {**ok, "split": "test"}])
    line, kind, reason = _problem(both, images, "vqa", tmp_path / "o")
    assert (line, kind) == (2, "split-conflict") and "line 1" in reason
    empty = _jsonl(tmp_path / "e.jsonl", [])
    assert _problem(empty, images, "vqa", tmp_path / "o")[1] == "bad-table"


def test_all_problems_are_reported_together(tmp_path, images):
    table = _csv(tmp_path / "t.csv", "image,question,answer",
                 ["nope.png,Q?,a", "im0.png,,a", "im1.png,Q?,b"])
    with pytest.raises(TableError) as caught:
        prepare_custom(table, images, "vqa", tmp_path / "o")
    assert caught.value.kinds == {"image-missing", "missing-field"}
    assert f"{table}:2: " in str(caught.value) and f"{table}:3: " in str(caught.value)


def test_split_never_puts_an_image_on_both_sides(tmp_path, images):
    rows = [f"im{k % 6}.png,Question {k}?,a{k}" for k in range(30)]  # 5 rows per image
    table = _csv(tmp_path / "t.csv", "image,question,answer", rows)
    summary = prepare_custom(table, images, "vqa", tmp_path / "o", test_fraction=0.34, seed=3)
    train = [json.loads(x) for x in (tmp_path / "o/train.jsonl").read_text().splitlines()]
    test = [json.loads(x) for x in (tmp_path / "o/test.jsonl").read_text().splitlines()]
    assert {r["image"] for r in train}.isdisjoint({r["image"] for r in test})
    assert len(train) + len(test) == 30 and summary.images == {"train": 4, "test": 2}
    again = split_images([f"im{k}.png" for k in reversed(range(6))], 0.34, 3)
    assert again == {r["image"] for r in test}  # row order does not matter, the seed does
    assert any(split_images([f"im{k}.png" for k in range(6)], 0.34, s) != again
               for s in range(4, 10))


def test_outputs_follow_the_paper_domains_prompts(tmp_path, images):
    vqa = prepare_custom(_csv(tmp_path / "v.csv", "image,question,answer,split",
                              ["im0.png,Is it red?,yes,train", "im1.png,Count?,2,test"]),
                         images, "vqa", tmp_path / "v", name="mine")
    assert (vqa.train_rows, vqa.test_items) == (1, 1)
    line = json.loads((tmp_path / "v/train.jsonl").read_text())
    assert line == {"id": "mine_line2", "image": "im0.png", "conversations": [
        {"from": "human", "value": "<image>\nIs it red?\nAnswer the question using a single "
                                   "word or phrase."}, {"from": "gpt", "value": "yes"}]}
    meta = json.loads((tmp_path / "v/meta.json").read_text())
    assert meta["mine"]["repeat_time"] == 1 and meta["mine"]["root"] == images.as_posix()
    prepare_custom(_jsonl(tmp_path / "g.jsonl", [
        {"image": "im0.png", "phrase": "the dot", "box": [10, 5, 60, 45], "split": "train"},
        {"image": "im1.png", "phrase": "the dot", "box": [0, 0, 100, 50], "split": "test"}]),
        images, "grounding", tmp_path / "g")
    train = json.loads((tmp_path / "g/train.jsonl").read_text())["conversations"]
    assert train[0]["value"] == "<image>\nDetect <ref>the dot</ref>"
    assert train[1]["value"] == "<ref>the dot</ref><box>[[100, 100, 600, 900]]</box>"
    test = json.loads((tmp_path / "g/test.jsonl").read_text())
    assert (test["bbox"], test["size"], test["task"]) == ([0, 0, 100, 50], [100, 50], "grounding")
    prepare_custom(_jsonl(tmp_path / "m.jsonl", [
        {"image": "im0.png", "question": "Colour?", "choices": ["red", "blue"], "answer": "B",
         "split": "test"},
        {"image": "im1.png", "question": "Colour?", "choices": {"A": "x", "B": "y"},
         "answer": "A", "split": "train"}]), images, "mcq", tmp_path / "m")
    test = json.loads((tmp_path / "m/test.jsonl").read_text())
    assert test["conversations"][0]["value"] == (
        "<image>\nColour?\nA. red\nB. blue\nAnswer with the option's letter from the given "
        "choices directly.")
    assert (test["choices"], test["conversations"][1]["value"]) == ({"A": "red", "B": "blue"}, "B")
    prepare_custom(_csv(tmp_path / "c.csv", "image,caption,split",
                        ["im0.png,One.,test", "im0.png,Two.,test", "im1.png,Three.,train"]),
                   images, "caption", tmp_path / "c")
    test = [json.loads(x) for x in (tmp_path / "c/test.jsonl").read_text().splitlines()]
    assert len(test) == 1 and test[0]["references"] == ["One.", "Two."]
    assert test[0]["conversations"][0]["value"] == f"<image>\n{CAPTION_PROMPT}"


def test_cli_prep_custom_writes_and_reports_bad_rows(tmp_path, images, capsys):
    from internvl_da.cli import main

    table = _csv(tmp_path / "t.csv", "image,question,answer", GOOD_VQA)
    assert main(["prep", "custom", "--table", str(table), "--images", str(images), "--task",
                 "vqa", "--out", str(tmp_path / "o")]) == 0
    assert "2 training lines, 1 test items" in capsys.readouterr().out
    bad = _csv(tmp_path / "b.csv", "image,question,answer", ["nope.png,Q?,a"])
    assert main(["prep", "custom", "--table", str(bad), "--images", str(images), "--task",
                 "vqa", "--out", str(tmp_path / "o2")]) == 1
    assert f"{bad}:2: image" in capsys.readouterr().err
