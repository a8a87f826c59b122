"""The meta builder: general entries re-weighted, domain entries appended, clear errors."""

from __future__ import annotations

import json

import pytest

from internvl_da.cli import main
from internvl_da.data.formats import load_meta
from internvl_da.prep import meta


def test_parse_entry():
    assert meta.parse_entry("a=x.jsonl,imgs") == meta.EntrySpec("a", "x.jsonl", "imgs", 1)
    assert meta.parse_entry("a=x.jsonl,imgs,2").repeat_time == 2
    assert isinstance(meta.parse_entry("a=x.jsonl,imgs,2").repeat_time, int)
    assert meta.parse_entry("a=x.jsonl,imgs,0.25").repeat_time == 0.25
    for bad in ("a", "a=x.jsonl", "=x,y", "a=,imgs"):
        with pytest.raises(ValueError, match="NAME=ANNOTATION,ROOT"):
            meta.parse_entry(bad)


def test_build_meta_order_and_repeat():
    general = [meta.EntrySpec("g1", "g1.jsonl", "r", 1), meta.EntrySpec("g2", "g2.jsonl", "r", 3)]
    domain = [meta.EntrySpec("d", "d.jsonl", "r", 2)]
    out = meta.build_meta(general, domain, 0.03)
    assert list(out) == ["g1", "g2", "d"]
    assert out["g2"]["repeat_time"] == 0.03 and out["d"]["repeat_time"] == 2
    assert out["d"]["data_augment"] is False
    with pytest.raises(ValueError, match="used twice"):
        meta.build_meta(general, [meta.EntrySpec("g1", "x.jsonl", "r")])
    with pytest.raises(ValueError, match="at least one domain"):
        meta.build_meta(general, [])


def test_cli_writes_loadable_meta_and_checks_files(tmp_path, capsys):
    for name in ("g.jsonl", "d.jsonl"):
        (tmp_path / name).write_text("")
    general_meta = tmp_path / "general.json"
    general_meta.write_text(json.dumps({"sharegpt4v": {
        "root": "r", "annotation": str(tmp_path / "g.jsonl"), "data_augment": False,
        "repeat_time": 1, "length": 5}}))
    out = tmp_path / "meta" / "remote.json"
    assert main(["prep", "meta", "--domain", "remote", "--out", str(out), "--general-meta",
                 str(general_meta), "--entry", f"rs={tmp_path / 'd.jsonl'},imgs,2"]) == 0
    assert "2 datasets (sharegpt4v, rs)" in capsys.readouterr().out
    loaded = load_meta(out)
    assert loaded["sharegpt4v"].repeat_time == 0.03 and loaded["rs"].repeat_time == 2
    with pytest.raises(FileNotFoundError, match=r"missing\.jsonl"):
        main(["prep", "meta", "--domain", "remote", "--out", str(out), "--entry",
              "x=missing.jsonl,r"])
