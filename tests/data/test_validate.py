"""Validation reports every planted defect at its file:line, nothing on clean data, and keeps
samples whose only excess is tail text (spec training.md §8.4, §13.2)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from internvl_da.data import validate
from internvl_da.data.templates import encode_conversation
from internvl_da.data.tokens import IMG_END
from internvl_da.model.tiny import build_tiny_tokenizer


def turn(q, a):
    return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]


GOOD = [
    {"id": "ok-single", "image": "a.jpg", "conversations": turn("What colour?", "red")},
    {"id": "ok-multi", "image": ["a.jpg", "b.png"],
     "conversations": turn("<image>\n<image>\nCompare.", "same")},
    {"id": "ok-text", "conversations": turn("Hi", "Hello")},
    {"id": "ok-leading-gpt", "image": "a.jpg",  # the leading gpt turn is dropped, no error
     "conversations": [{"from": "gpt", "value": "x"}, *turn("q", "a")]},
]

# (line content, expected reason fragment); line numbers follow GOOD's lines and one blank line.
DEFECTS = [
    ("{not json", "invalid JSON"),
    (json.dumps({"conversations": [{"from": "gpt", "value": "a"}, {"from": "gpt", "value": "b"},
                                   {"from": "human", "value": "q"}]}), "alternate"),
    (json.dumps({"conversations": [{"from": "system", "value": "s"}, *turn("q", "a")]}),
     "unsupported role 'system'"),
    (json.dumps({"image": "a.jpg", "conversations": turn("q", "")}), "empty answer"),
    (json.dumps({"image": ["a.jpg", "b.png"], "conversations": turn("<image>", "x")}),
     "1 <image> tags for 2 images"),
    (json.dumps({"image": "a.jpg", "conversations": turn("<image><image>", "x")}),
     "2 <image> tags for 1 image"),
    (json.dumps({"conversations": turn("<image> what?", "x")}), "no image"),
    (json.dumps({"image": "missing.jpg", "conversations": turn("q", "a")}),
     "image file not found"),
    (json.dumps({"image": "corrupt.jpg", "conversations": turn("q", "a")}), "not a readable"),
    (json.dumps({"image": "truncated.jpg", "conversations": turn("q", "a")}), "truncated"),
    (json.dumps({"image": "../outside.jpg", "conversations": turn("q", "a")}), "escapes"),
    (json.dumps({"image": "/abs.jpg", "conversations": turn("q", "a")}), "absolute"),
    (json.dumps({"image": "big.jpg", "conversations": turn("q", "a")}), "cuts an image block"),
    (json.dumps({"video": "v.mp4", "conversations": turn("q", "a")}), "video"),
]
FIRST_DEFECT = len(GOOD) + 2  # after GOOD and a blank line


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    Image.new("RGB", (64, 64), (200, 0, 0)).save(root / "a.jpg")
    Image.new("RGB", (64, 32), (0, 0, 200)).save(root / "b.png")
    Image.new("RGB", (640, 480), (0, 90, 0)).save(root / "big.jpg", quality=95)
    (root / "corrupt.jpg").write_bytes(b"\x00garbage")
    good = (root / "big.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(good[: len(good) // 2])
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.jpg")
    lines = [json.dumps(r) for r in GOOD] + [""] + [d for d, _ in DEFECTS]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, root


def settings(**kw):
    # 32 px tiles of 16 tokens: big.jpg (640x480) -> 12 tiles + thumbnail = 208 tokens > 200.
    base = dict(tokenizer=build_tiny_tokenizer("qwen2"), template="Hermes-2",
                max_seq_length=200, tokens_per_tile=16, image_size=32)
    base.update(kw)
    return base


def test_every_planted_defect_is_reported_once_at_its_line(dataset):
    path, root = dataset
    problems = validate.check_jsonl(path, root, **settings())
    by_line = {p.line: p.reason for p in problems}
    for k, (_, reason) in enumerate(DEFECTS):
        line = FIRST_DEFECT + k
        assert line in by_line, f"line {line} ({reason}) not reported"
        assert reason in by_line[line], (line, by_line[line])
    assert sorted(p.line for p in problems) == list(range(FIRST_DEFECT,
                                                          FIRST_DEFECT + len(DEFECTS)))
    assert all(str(p).startswith(f"{path}:{p.line}: ") for p in problems)
    missing = next(p for p in problems if "not found" in p.reason)
    assert missing.reason.endswith(str(root / "missing.jpg"))  # names the image file


def test_without_tokenizer_no_length_check_and_template_required(dataset):
    path, root = dataset
    problems = validate.check_jsonl(path, root)
    assert len(problems) == len(DEFECTS) - 1
    assert not any("image block" in p.reason for p in problems)
    without_images = {p.reason for p in validate.check_jsonl(path, root, check_images=False)}
    assert len(without_images) == len(DEFECTS) - 4  # missing, corrupt, truncated, too long
    assert not any(word in r for r in without_images for word in ("found", "readable", "trunc"))
    assert any("escapes" in r for r in without_images)  # paths are still checked
    with pytest.raises(ValueError, match="template is required"):
        validate.check_jsonl(path, root, **settings(template=None))
    with pytest.raises(TypeError, match="unknown check settings"):
        validate.check_jsonl(path, root, max_tiles=3)


def test_tail_truncation_is_kept_and_counted_image_cut_is_rejected(tmp_path):
    Image.new("RGB", (64, 64)).save(tmp_path / "a.jpg")  # 2x2 grid + thumbnail = 5 tiles
    conv = turn("What colour?", "red " * 40)
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"image": "a.jpg", "conversations": conv}) + "\n")
    tok = build_tiny_tokenizer("qwen2")
    ids, _ = encode_conversation(tok, "Hermes-2", conv, [5 * 16])
    img_end = ids.index(tok.convert_tokens_to_ids(IMG_END))
    opts = settings(tokenizer=tok)

    def report(max_len):
        (rep,) = validate.check_path(path, tmp_path, **{**opts, "max_seq_length": max_len})
        return rep

    assert report(len(ids)).problems == [] and report(len(ids)).tail_truncated == 0
    kept = report(len(ids) - 1)
    assert kept.problems == [] and kept.tail_truncated == 1 and kept.rejected == 0
    cut = report(img_end)  # </img> is token img_end + 1: one short of the image block
    assert [p.reason for p in cut.problems] == [f"max_length {img_end} cuts an image block"]
    assert cut.tail_truncated == 0 and cut.rejected == 1
    assert "kept with tail text truncated" in str(kept) and "1 rejected" in str(cut)


def test_multi_image_uses_the_per_image_tile_budget(tmp_path):
    # Two 640x480 images: max(1, 12 // 2) = 6 tiles each (3x2 grid + thumbnail = 7) -> 224
    # tokens; 12 tiles each would be 416. 300 tokens separates the two rules.
    for name in ("x.jpg", "y.jpg"):
        Image.new("RGB", (640, 480)).save(tmp_path / name)
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"image": ["x.jpg", "y.jpg"],
                                "conversations": turn("<image><image>\nSame?", "yes")}) + "\n")
    assert validate.check_jsonl(path, tmp_path, **settings(max_seq_length=300)) == []
    problems = validate.check_jsonl(path, tmp_path, **settings(max_seq_length=220))
    assert [p.reason for p in problems] == ["max_length 220 cuts an image block"]


def test_check_meta_uses_each_entry(dataset, tmp_path):
    path, root = dataset
    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join(json.dumps(r) for r in GOOD))
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({
        "clean": {"root": str(root), "annotation": str(clean), "data_augment": False,
                  "repeat_time": 1},
        "dirty": {"root": str(root), "annotation": str(path), "data_augment": False,
                  "repeat_time": 0.5, "max_dynamic_patch": 1},
        "absent": {"root": str(root), "annotation": str(tmp_path / "no.jsonl"),
                   "data_augment": False, "repeat_time": 1},
    }))
    reports = validate.check_meta_datasets(meta, **settings())
    assert [(r.name, r.checked, r.rejected) for r in reports] == [
        ("clean", len(GOOD), 0), ("dirty", len(GOOD) + len(DEFECTS), len(DEFECTS) - 1),
        ("absent", 0, 1)]
    # max_dynamic_patch=1 keeps big.jpg at one tile: it no longer overflows 200 tokens.
    problems = validate.check_meta(meta, **settings())
    assert not any("image block" in p.reason for p in problems)
    assert str(problems[-1]) == f"{tmp_path / 'no.jsonl'}: annotation file not found"
    lines = validate.summary_lines(reports)
    assert lines[0] == (f"clean ({clean}): {len(GOOD)} lines checked, 0 rejected, 1 kept with "
                        f"a leading gpt turn dropped")
    assert lines[-1].startswith(f"total: {2 * len(GOOD) + len(DEFECTS)} lines checked, "
                                f"{len(DEFECTS)} rejected")
    bad_meta = tmp_path / "bad.json"
    bad_meta.write_text(json.dumps({"x": {"root": "r", "annotation": "a.json"}}))
    (only,) = validate.check_meta(bad_meta)
    assert only.file == str(bad_meta) and "missing required key" in only.reason


def test_write_rejects_and_summarise(tmp_path):
    problems = [validate.Problem("a.jsonl", 3, "empty answer in turn 2"),
                validate.Problem("a.jsonl", 3, "image file not found: x"),
                validate.Problem("b.jsonl", None, "annotation file not found")]
    out = tmp_path / "sub" / "rejects.jsonl"
    validate.write_rejects(problems, out)
    assert [json.loads(x) for x in out.read_text().splitlines()] == [
        {"file": "a.jsonl", "line": 3, "reason": "empty answer in turn 2"},
        {"file": "a.jsonl", "line": 3, "reason": "image file not found: x"},
        {"file": "b.jsonl", "line": None, "reason": "annotation file not found"}]
    assert list(out.parent.iterdir()) == [out]  # atomic: no temp file left
    assert validate.summarise(problems) == "3 problems in 2 lines of 2 files"
    assert validate.summarise([]) == "no problems"
