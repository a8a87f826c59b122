"""`data check` reports every planted defect with its file:line, and nothing on clean data."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from internvl_da.cli import main
from internvl_da.data import validate
from internvl_da.model.tiny import build_tiny_tokenizer


def turn(q, a):
    return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]


GOOD = [
    {"id": "ok-single", "image": "a.jpg", "conversations": turn("What colour?", "red")},
    {"id": "ok-multi", "image": ["a.jpg", "b.png"],
     "conversations": turn("<image>\n<image>\nCompare.", "same")},
    {"id": "ok-text", "conversations": turn("Hi", "Hello")},
    {"id": "ok-leading-gpt", "image": "a.jpg",
     "conversations": [{"from": "gpt", "value": "x"}, *turn("q", "a")]},
]

# (line content, expected reason fragment); line numbers follow GOOD's four lines.
DEFECTS = [
    ("{not json", "invalid JSON"),
    (json.dumps({"conversations": [{"from": "gpt", "value": "a"}, {"from": "gpt", "value": "b"},
                                   {"from": "human", "value": "q"}]}), "alternate"),
    (json.dumps({"image": "a.jpg", "conversations": turn("q", "")}), "empty answer"),
    (json.dumps({"image": ["a.jpg", "b.png"], "conversations": turn("<image>", "x")}),
     "1 <image> tags for 2 images"),
    (json.dumps({"image": "a.jpg", "conversations": turn("<image><image>", "x")}),
     "2 <image> tags for 1 image"),
    (json.dumps({"image": "missing.jpg", "conversations": turn("q", "a")}), "not found"),
    (json.dumps({"image": "corrupt.jpg", "conversations": turn("q", "a")}), "not a readable"),
    (json.dumps({"image": "truncated.jpg", "conversations": turn("q", "a")}), "truncated"),
    (json.dumps({"image": "../outside.jpg", "conversations": turn("q", "a")}), "escapes"),
    (json.dumps({"image": "/abs.jpg", "conversations": turn("q", "a")}), "absolute"),
    (json.dumps({"image": "big.jpg", "conversations": turn("q", "a")}), "cuts an image block"),
    (json.dumps({"video": "v.mp4", "conversations": turn("q", "a")}), "video"),
]


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
    lines = [json.dumps(r) for r in GOOD] + [d for d, _ in DEFECTS]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, root


def options(**kw):
    base = dict(tokenizer=build_tiny_tokenizer("qwen2"), template="Hermes-2",
                max_seq_length=200, tokens_per_tile=16, image_size=32)
    base.update(kw)
    return validate.CheckOptions(**base)


def test_every_planted_defect_is_reported(dataset):
    path, root = dataset
    problems = validate.check_jsonl(path, root, options=options())
    by_line = {p.line: p.reason for p in problems}
    for k, (_, reason) in enumerate(DEFECTS):
        line = len(GOOD) + k + 1
        assert line in by_line, f"line {line} ({reason}) not reported"
        assert reason in by_line[line], (line, by_line[line])
    assert set(by_line) == {len(GOOD) + k + 1 for k in range(len(DEFECTS))}
    assert all(str(p).startswith(f"{path}:{p.line}: ") for p in problems)


def test_length_check_only_with_tokenizer(dataset):
    path, root = dataset
    problems = validate.check_jsonl(path, root)
    assert not any("image block" in p.reason for p in problems)
    with pytest.raises(ValueError, match="template is required"):
        validate.check_jsonl(path, root, options=options(template=None))


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
    problems = validate.check_meta(meta, options())
    files = {p.file for p in problems}
    assert str(clean) not in files and str(path) in files
    assert any("annotation file not found" in p.reason for p in problems)
    # max_dynamic_patch=1 keeps big.jpg at one tile: it no longer overflows 200 tokens.
    assert not any("image block" in p.reason for p in problems)


def test_cli_reports_all_and_writes_rejects(dataset, tmp_path, capsys):
    path, root = dataset
    tok_dir = tmp_path / "tok"
    build_tiny_tokenizer("qwen2").save_pretrained(tok_dir)
    rejects = tmp_path / "rejects.jsonl"
    code = main(["data", "check", str(path), "--root", str(root), "--tokenizer", str(tok_dir),
                 "--template", "Hermes-2", "--max-seq-length", "200", "--tokens-per-tile", "16",
                 "--image-size", "32", "--rejects", str(rejects)])
    out = capsys.readouterr()
    assert code == 1
    printed = out.out.strip().splitlines()
    assert len(printed) == len(DEFECTS)
    assert printed[0].startswith(f"{path}:{len(GOOD) + 1}: invalid JSON")
    assert f"{len(DEFECTS)} problems in {len(DEFECTS)} lines of 1 files" in out.err
    rows = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [r["line"] for r in rows] == list(range(len(GOOD) + 1, len(GOOD) + len(DEFECTS) + 1))


def test_cli_clean_file_exit_zero_and_template_required(dataset, tmp_path, capsys):
    _, root = dataset
    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join(json.dumps(r) for r in GOOD))
    assert main(["data", "check", str(clean), "--root", str(root)]) == 0
    assert "no problems" in capsys.readouterr().err
    assert main(["data", "check", str(clean), "--tokenizer", str(tmp_path)]) == 2
