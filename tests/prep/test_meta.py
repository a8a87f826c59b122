"""The meta builder: general entries re-weighted, domain entries appended, clear errors."""

from __future__ import annotations

import json

import pytest

from internvl_da.cli import main
from internvl_da.data.formats import load_meta
from internvl_da.prep import meta
from internvl_da.prep.meta import EntrySpec


def test_parse_entry():
    assert meta.parse_entry("a=x.jsonl,imgs") == EntrySpec("a", "x.jsonl", "imgs", 1)
    two = meta.parse_entry("a=x.jsonl,imgs,2.0")
    assert two.repeat_time == 2 and isinstance(two.repeat_time, int)  # the reference asserts int
    assert meta.parse_entry("a=x.jsonl,s3://bucket/imgs/,0.25,6") == \
        EntrySpec("a", "x.jsonl", "s3://bucket/imgs/", 0.25, max_dynamic_patch=6)
    for bad in ("a", "a=x.jsonl", "=x,y", "a=,imgs", "a=x,y,1,2,3"):
        with pytest.raises(ValueError, match="NAME=ANNOTATION,ROOT"):
            meta.parse_entry(bad)
    for bad, reason in (("a=x,y,2.5", "must be an integer"), ("a=x,y,0", "positive"),
                        ("a=x,y,1,0", "max_dynamic_patch"), ("a=x,y,one", "could not convert")):
        with pytest.raises(ValueError, match=reason):
            meta.parse_entry(bad)


def test_build_meta_order_keys_and_repeat():
    general = {"g1": EntrySpec("g1", "g1.jsonl", "r", 1, length=102025),
               "g2": EntrySpec("g2", "g2.jsonl", "r", 3)}
    domain = [EntrySpec("d", "d.jsonl", "r", 2, max_dynamic_patch=6)]
    out = meta.build_meta(general, domain, 0.03)
    assert list(out) == ["g1", "g2", "d"]
    assert out["g1"] == {"root": "r", "annotation": "g1.jsonl", "data_augment": False,
                         "repeat_time": 0.03, "length": 102025}
    assert list(out["d"]) == ["root", "annotation", "data_augment", "repeat_time",
                              "max_dynamic_patch"]
    assert out["g2"]["repeat_time"] == 0.03 and out["d"]["repeat_time"] == 2
    with pytest.raises(ValueError, match="'g1' used twice"):
        meta.build_meta(general, [EntrySpec("g1", "x.jsonl", "r")])
    with pytest.raises(ValueError, match="at least one domain"):
        meta.build_meta(general, [])
    with pytest.raises(ValueError, match="general_repeat"):
        meta.build_meta(general, domain, 1.5)
    with pytest.raises(ValueError, match="'d': repeat_time above 1 must be an integer"):
        meta.build_meta(general, [EntrySpec("d", "d.jsonl", "r", 1.5)])


def _jsonl(path, n):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": i, "conversations": []}) + "\n" for i in range(n)))
    return str(path)


def test_full_data_general_meta(tmp_path, capsys):
    general = {name: {"root": str(tmp_path), "annotation": _jsonl(tmp_path / f"{k}.jsonl", 100),
                      "data_augment": False, "repeat_time": 1, "length": 100}
               for k, name in enumerate(meta.INTERNVL_1_2_GENERAL)}
    (tmp_path / "internvl_1_2_finetune.json").write_text(json.dumps(general))
    out = tmp_path / "meta" / "remote.json"
    argv = ["prep", "meta", "--domain", "remote", "--out", str(out), "--general-meta",
            str(tmp_path / "internvl_1_2_finetune.json"),
            "--entry", f"rs={_jsonl(tmp_path / 'd.jsonl', 10)},{tmp_path},2"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "10 datasets" in printed and "note" not in printed
    assert "sharegpt4v_instruct_gpt4-vision_cap100k: repeat_time 0.03, 3 of 100 lines" in printed
    assert "rs: repeat_time 2, 20 of 10 lines" in printed
    loaded = load_meta(out)
    assert list(loaded) == [*meta.INTERNVL_1_2_GENERAL, "rs"]
    assert {e.repeat_time for e in loaded.values()} == {0.03, 2}
    assert json.loads(out.read_text())["geoqa+"]["length"] == 100
    first = out.read_bytes()
    assert main(argv) == 0 and out.read_bytes() == first  # same inputs -> same bytes


def test_general_meta_with_other_names_is_noted(tmp_path):
    (tmp_path / "g.json").write_text(json.dumps({"mine": {
        "root": str(tmp_path), "annotation": _jsonl(tmp_path / "g.jsonl", 40),
        "data_augment": False, "repeat_time": 1}}))
    summary = meta.prepare_meta("medical", tmp_path / "m.json", general_meta=tmp_path / "g.json",
                                entries=[f"med={_jsonl(tmp_path / 'd.jsonl', 5)},{tmp_path}"])
    assert summary.rows == [("mine", 0.03, 40, 1), ("med", 1, 5, 5)]
    assert "missing: ['sharegpt4v_instruct_gpt4-vision_cap100k'" in summary.notes[0]


def test_missing_files_and_empty_selection(tmp_path):
    general = _jsonl(tmp_path / "g.jsonl", 40)
    (tmp_path / "g.json").write_text(json.dumps({"g": {
        "root": str(tmp_path), "annotation": general, "data_augment": False,
        "repeat_time": 1}}))
    with pytest.raises(FileNotFoundError, match=r"x: annotation .*none\.jsonl"):
        meta.prepare_meta("remote", tmp_path / "r.json", general_meta=tmp_path / "g.json",
                          entries=[f"x={tmp_path / 'none.jsonl'},{tmp_path}"])
    assert not (tmp_path / "r.json").exists()
    with pytest.raises(FileNotFoundError, match="x: root nowhere"):
        meta.prepare_meta("medical", tmp_path / "m.json", entries=[f"x={general},nowhere"])
    with pytest.raises(ValueError, match=r"'g': repeat_time 0\.01 keeps 0 of 40 lines"):
        meta.prepare_meta("medical", tmp_path / "m.json", general_meta=tmp_path / "g.json",
                          entries=[f"x={general},{tmp_path}"], general_repeat=0.01)
