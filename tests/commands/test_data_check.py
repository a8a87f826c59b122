"""`internvl-da data check` end to end through `main(argv)`: output, exit codes, rejects file."""

from __future__ import annotations

import argparse
import json

import pytest
from PIL import Image

from internvl_da.cli import main
from internvl_da.commands import data_check
from internvl_da.model.tiny import build_tiny_tokenizer


def turn(q, a):
    return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]


@pytest.fixture()
def data(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    Image.new("RGB", (64, 64), (200, 0, 0)).save(root / "a.jpg")
    Image.new("RGB", (640, 480)).save(root / "big.jpg")
    rows = [
        {"image": "a.jpg", "conversations": turn("q", "a")},  # 1: fine
        "{broken",  # 2
        {"image": "gone.jpg", "conversations": turn("q", "a")},  # 3
        {"image": "big.jpg", "conversations": turn("q", "a")},  # 4: too long with a tokenizer
        {"conversations": [{"from": "system", "value": "s"}, *turn("q", "a")]},  # 5
    ]
    dirty = tmp_path / "dirty.jsonl"
    dirty.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    clean = root / "clean.jsonl"  # default root: the file's own directory
    clean.write_text(json.dumps(rows[0]) + "\n" + json.dumps(rows[3]) + "\n")
    tok = tmp_path / "tok"
    build_tiny_tokenizer("qwen2").save_pretrained(tok)
    return dirty, clean, root, tok


LENGTH_ARGS = ["--template", "Hermes-2", "--max-seq-length", "200", "--tokens-per-tile", "16",
               "--image-size", "32"]


def test_reports_every_problem_then_summary_and_writes_rejects(data, tmp_path, capsys):
    dirty, _, root, tok = data
    rejects = tmp_path / "out" / "rejects.jsonl"
    code = main(["data", "check", str(dirty), "--root", str(root), "--tokenizer", str(tok),
                 *LENGTH_ARGS, "--rejects", str(rejects)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert [x.split(": ")[0] for x in out[:4]] == [f"{dirty}:{n}" for n in (2, 3, 4, 5)]
    assert "invalid JSON" in out[0] and "image file not found" in out[1]
    assert "cuts an image block" in out[2] and "unsupported role 'system'" in out[3]
    assert out[4] == f"dirty ({dirty}): 5 lines checked, 4 rejected"
    assert out[5] == "total: 5 lines checked, 4 rejected (4 problems in 4 lines of 1 files)"
    assert len(out) == 6
    rows = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [(r["file"], r["line"]) for r in rows] == [(str(dirty), n) for n in (2, 3, 4, 5)]


def test_clean_file_exits_zero_with_default_root(data, capsys):
    _, clean, _, tok = data
    assert main(["data", "check", str(clean)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("0 rejected (no problems)")
    # big.jpg is fine structurally but too long once lengths are checked.
    assert main(["data", "check", str(clean), "--tokenizer", str(tok), *LENGTH_ARGS]) == 1


def test_meta_file(data, tmp_path, capsys):
    dirty, clean, root, _ = data
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({
        "clean": {"root": str(root), "annotation": str(clean), "data_augment": False,
                  "repeat_time": 1},
        "dirty": {"root": str(root), "annotation": str(dirty), "data_augment": False,
                  "repeat_time": 0.5}}))
    assert main(["data", "check", str(meta)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == [f"clean ({clean}): 2 lines checked, 0 rejected",
                        f"dirty ({dirty}): 5 lines checked, 3 rejected",
                        "total: 7 lines checked, 3 rejected (3 problems in 3 lines of 1 files)"]


@pytest.mark.parametrize("argv,message", [
    (["--tokenizer", "TOK", "--size", "8b"], "unknown model size '8b'"),
    (["--root", "ROOT"], "--root applies to a .jsonl only"),
])
def test_usage_errors_exit_2(data, tmp_path, capsys, argv, message):
    dirty, _, root, tok = data
    target = dirty if "--tokenizer" in argv else tmp_path / "meta.json"
    argv = [str(tok) if a == "TOK" else str(root) if a == "ROOT" else a for a in argv]
    assert main(["data", "check", str(target), *argv]) == 2
    assert message in capsys.readouterr().err


def test_unknown_suffix_is_an_error(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("")
    assert main(["data", "check", str(tmp_path / "x.txt")]) == 2
    assert "expected a meta .json or an annotation .jsonl" in capsys.readouterr().err


def test_help_explains_each_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "check", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--root", "--tokenizer", "--template", "--max-seq-length", "--max-num",
                   "--tokens-per-tile", "--rejects", "META_OR_JSONL"):
        assert option in text
    assert "tail text is kept" in text  # the length rule is stated where it is switched on
    parser = argparse.ArgumentParser()
    data_check.add_arguments(parser)
    assert all(action.help for action in parser._actions)


def test_leading_gpt_turn_is_counted_not_rejected(tmp_path, capsys):
    """Regression (issue 10): a leading `gpt` turn was an error; the reference drops it and
    trains on the rest (spec §8.3), so `data check` keeps such lines and counts them."""
    rows = [
        {"conversations": [{"from": "gpt", "value": "Hi!"}, *turn("q", "a")]},
        {"conversations": turn("q", "a")},
        {"conversations": [{"from": "gpt", "value": "Hi!"}, *turn("q", "a"), *turn("q2", "b")]},
        {"conversations": [{"from": "gpt", "value": "Hi!"}, {"from": "gpt", "value": "a"}]},
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["data", "check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}:4: ")  # the rest must still be human/gpt pairs
    assert out[1] == (f"chat ({path}): 4 lines checked, 1 rejected, 2 kept with a leading gpt "
                      f"turn dropped")
    assert out[2] == ("total: 4 lines checked, 1 rejected, 2 kept with a leading gpt turn "
                      "dropped (1 problems in 1 lines of 1 files)")


def test_defaults_come_from_params_and_the_size(data, capsys):
    """Issue 11, item 15: without flags the tiny model's tiles (4 tokens, 64 px), its template
    and the params' max_seq_length apply; the 640x480 image of line 4 then fits (12 tiles of
    4 tokens), where the InternVL2 default (256 tokens a tile) would be needed for --size 1b."""
    _, clean, _, tok = data
    assert main(["data", "check", str(clean), "--tokenizer", str(tok)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("total: 2 lines checked, 0 rej")
    assert main(["data", "check", str(clean), "--tokenizer", str(tok), "--size", "1b",
                 "--max-seq-length", "600"]) == 1  # 1b: 256 tokens a tile, 448 px tiles
    assert "cuts an image block" in capsys.readouterr().out


def test_jsonl_root_comes_from_the_meta_that_names_it(tmp_path, capsys):
    """Issue 11, item 15: the released layout names images relative to the meta's root, not
    the .jsonl's folder; `data check FILE.jsonl` finds the meta above it and says so."""
    base = tmp_path / "data"
    (base / "DA/train_data").mkdir(parents=True)
    (base / "DA/train_meta").mkdir()
    (base / "DA/images/rs").mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(base / "DA/images/rs/0.png")
    jsonl = base / "DA/train_data/rs.jsonl"
    jsonl.write_text(json.dumps({"image": "0.png", "conversations": turn("<image>\nq", "a")})
                     + "\n")
    (base / "DA/train_meta/remote.json").write_text(json.dumps({"rs": {
        "root": "DA/images/rs/", "annotation": "DA/train_data/rs.jsonl",
        "data_augment": False, "repeat_time": 1}}))
    assert main(["data", "check", str(jsonl)]) == 0
    captured = capsys.readouterr()
    assert f"image root {base / 'DA/images/rs'} (dataset 'rs' of " in captured.err
    (base / "DA/train_meta/remote.json").unlink()  # no meta: the .jsonl's folder, as before
    assert main(["data", "check", str(jsonl)]) == 1
    assert "image file not found" in capsys.readouterr().out


def test_meta_typo_and_empty_repeat_are_errors(tmp_path, capsys):
    """Issue 11, item 6: `repeat_tmie` was ignored (repeat_time then missing or defaulted) and
    a repeat_time keeping 0 lines passed, failing training later without a dataset name."""
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text("".join(json.dumps({"conversations": turn("q", "a")}) + "\n"
                             for _ in range(3)))
    meta = tmp_path / "meta.json"
    entry = {"root": str(tmp_path), "annotation": str(jsonl), "data_augment": False,
             "repeat_time": 1, "repeat_tmie": 2}
    meta.write_text(json.dumps({"small": entry}))
    assert main(["data", "check", str(meta)]) == 1
    assert "dataset 'small': unknown key 'repeat_tmie'" in capsys.readouterr().out
    del entry["repeat_tmie"]
    meta.write_text(json.dumps({"small": {**entry, "repeat_time": 0.2}}))
    assert main(["data", "check", str(meta)]) == 1
    out = capsys.readouterr().out
    assert "dataset 'small': repeat_time 0.2 keeps 0 of its 3 lines" in out
