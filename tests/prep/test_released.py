"""The released meta, resolved under the data root as the reference opens it."""

from __future__ import annotations

import json

import pytest

from internvl_da.data.errors import SampleError
from internvl_da.prep.released import Replacement, meta_file, resolve, resolved_meta


def test_resolve_keeps_absolute_s3_and_trailing_slash():
    assert resolve("playground/data/", "data/full") == "data/full/playground/data/"
    assert resolve("playground/opensource/a.jsonl", "data/full") == \
        "data/full/playground/opensource/a.jsonl"
    assert resolve("/abs/x.jsonl", "data/full") == "/abs/x.jsonl"
    assert resolve("s3://bucket/images/", "data/full") == "s3://bucket/images/"


def _meta(tmp_path):
    meta = {"geoqa+": {"root": "playground/data/geoqa+/", "annotation":
                       "playground/opensource/geoqa+.jsonl", "data_augment": False,
                       "repeat_time": 0.03, "length": 72318},
            "dior": {"root": "InternVL-Domain-Adaptation-Data/images/", "annotation":
                     "InternVL-Domain-Adaptation-Data/train_data/dior_rsvg_instruct_26k.jsonl",
                     "data_augment": True, "repeat_time": 2, "max_dynamic_patch": 6}}
    (tmp_path / "m.json").write_text(json.dumps(meta))
    return meta


def test_every_key_but_the_paths_is_kept(tmp_path):
    meta = _meta(tmp_path)
    out = resolved_meta(tmp_path / "m.json", "data/full")
    assert list(out) == list(meta)
    for name, entry in meta.items():
        assert out[name] == {**entry, "root": "data/full/" + entry["root"],
                             "annotation": "data/full/" + entry["annotation"]}


def test_raw_replacements_match_by_file_name_or_fail(tmp_path):
    _meta(tmp_path)
    swap = Replacement("dior_rsvg_instruct_26k.jsonl", "conv/dior.jsonl", "raw/dior_rsvg")
    out = resolved_meta(tmp_path / "m.json", "data/full", (swap,))
    assert (out["dior"]["annotation"], out["dior"]["root"]) == ("conv/dior.jsonl",
                                                                "raw/dior_rsvg")
    assert out["dior"]["repeat_time"] == 2  # the released weight is kept
    gone = Replacement("rsvqa_hr_train_instruct_100k.jsonl", "x.jsonl", "y")
    with pytest.raises(ValueError, match=r"m\.json: no entry reads "
                                         r"rsvqa_hr_train_instruct_100k\.jsonl"):
        resolved_meta(tmp_path / "m.json", "data/full", (gone,))


def test_bad_meta_and_domain_are_named(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"x": {"root": "r", "annotation": "a.txt",
                                                       "data_augment": False,
                                                       "repeat_time": 1}}))
    with pytest.raises(SampleError, match=r"m\.json"):
        resolved_meta(tmp_path / "m.json", "data/full")
    with pytest.raises(ValueError, match="unknown domain 'bdd'"):
        meta_file("bdd")
