"""Meta files, repeat_time, the byte-offset JSONL index and record normalisation."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import pytest
import torch

from internvl_da.data import formats
from internvl_da.data.errors import SampleError


def write_meta(tmp_path, entries, name="meta.json"):
    path = tmp_path / name
    path.write_text(json.dumps(entries))
    return path


def entry(**overrides):
    base = {"root": "imgs/", "annotation": "a.jsonl", "data_augment": False, "repeat_time": 1}
    base.update(overrides)
    return base


def test_load_meta_in_order_with_optional_keys(tmp_path):
    meta = formats.load_meta(write_meta(tmp_path, {
        "b": entry(max_dynamic_patch=6, length=10), "a": entry(repeat_time=0.03)}))
    assert list(meta) == ["b", "a"]
    assert meta["b"].max_dynamic_patch == 6 and meta["a"].repeat_time == 0.03


@pytest.mark.parametrize("bad,reason", [
    (entry(repeat_time=2.0), "must be an integer"),  # reference: assert isinstance(int)
    (entry(repeat_time=1.5), "must be an integer"),
    (entry(repeat_time=True), "positive number"),
    (entry(root=3), "'root' must be str, got int"),
    ("not an object", "entry must be an object"),
    (entry(repeat_time=0), "positive number"),
    (entry(repeat_time="1"), "positive number"),
    (entry(annotation="a.json"), "must be a .jsonl"),
    (entry(data_augment="no"), "'data_augment' must be bool"),
    (entry(max_dynamic_patch=0), "max_dynamic_patch"),
    ({"root": "x", "annotation": "a.jsonl", "repeat_time": 1},
     "missing required key 'data_augment'"),
])
def test_load_meta_errors_name_file_and_dataset(tmp_path, bad, reason):
    path = write_meta(tmp_path, {"ds": bad})
    with pytest.raises(SampleError, match=reason) as exc:
        formats.load_meta(path)
    assert str(path) in str(exc.value) and "'ds'" in str(exc.value)


def test_load_meta_duplicate_keys_and_bad_json(tmp_path):
    dup = tmp_path / "dup.json"
    dup.write_text('{"a": {"root": "r", "annotation": "a.jsonl", "data_augment": false, '
                   '"repeat_time": 1}, "a": {}}')
    with pytest.raises(SampleError, match="duplicate key 'a'"):
        formats.load_meta(dup)
    broken = tmp_path / "broken.json"
    broken.write_text('{\n"a": \n')
    with pytest.raises(SampleError, match="invalid JSON"):
        formats.load_meta(broken)
    with pytest.raises(SampleError, match="not found"):
        formats.load_meta(tmp_path / "none.json")
    with pytest.raises(SampleError, match="non-empty JSON object"):
        formats.load_meta(write_meta(tmp_path, [entry()], "list.json"))


def test_select_lines_reference_semantics():
    assert formats.select_lines(10, 0.5) == [0, 1, 2, 3, 4]
    assert formats.select_lines(10, 0.03) == []
    assert formats.select_lines(3, 2) == [0, 1, 2, 0, 1, 2]
    assert formats.select_lines(3, 1) == [0, 1, 2]
    a = formats.select_lines(100, 0.1, rng=random.Random(3))
    assert a == formats.select_lines(100, 0.1, rng=random.Random(3))
    assert len(a) == 10 and a == sorted(a) and a != list(range(10))
    assert a != formats.select_lines(100, 0.1, rng=random.Random(4))
    assert formats.select_lines(3, 2, rng=random.Random(3)) == [0, 1, 2, 0, 1, 2]


def test_jsonl_index_random_access_and_line_numbers(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1}\n\n   \n{"id": 2}\n{bad json}\n{"id": 4}')  # no final newline
    index = formats.JsonlIndex(path)
    assert len(index) == 4
    assert [index.line_number(i) for i in range(4)] == [1, 4, 5, 6]
    assert index[3] == {"id": 4} and index[0] == {"id": 1}
    with pytest.raises(SampleError, match=r"x\.jsonl:5: invalid JSON"):
        index[2]
    assert index.raw(3) == b'{"id": 4}'


def test_jsonl_index_crlf_blank_and_long_whitespace_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\r\n{"id": 1}\r\n \t\r\n' + b" " * 100 + b'\n[1]\n{"id": 2}\r\n')
    index = formats.JsonlIndex(path)
    assert [index.line_number(i) for i in range(len(index))] == [2, 4, 5, 6]
    assert index[0] == {"id": 1} and index[3] == {"id": 2}
    with pytest.raises(SampleError, match=r"x\.jsonl:4: invalid JSON"):  # long blank: kept
        index[1]
    with pytest.raises(SampleError, match=r"x\.jsonl:5: line is not a JSON object"):
        index[2]
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n\n")
    assert len(formats.JsonlIndex(empty)) == 0
    with pytest.raises(SampleError, match="annotation file not found"):
        formats.JsonlIndex(tmp_path / "none.jsonl")


def test_jsonl_index_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "_CHUNK", 7)  # lines straddle every read
    rows = [{"id": i, "text": "x" * (i % 13)} for i in range(40)]
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    index = formats.JsonlIndex(path)
    assert [index[i] for i in range(len(index))] == rows
    assert index.line_number(39) == 40


def test_jsonl_index_reopens_after_fork(tmp_path, monkeypatch):
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 0}\n{"id": 1}\n')
    index = formats.JsonlIndex(path)
    assert index[0] == {"id": 0}
    parent_handle = index._handle
    monkeypatch.setattr(formats.os, "getpid", lambda: -1)  # as in a forked worker
    assert index[1] == {"id": 1}
    assert index._handle is not parent_handle and index._pid == -1
    assert pickle.loads(pickle.dumps(index))._handle is None


class _Lines(torch.utils.data.Dataset):
    def __init__(self, index):
        self.index = index

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        return self.index[i]["id"]


def test_jsonl_index_pickles_and_works_in_worker_processes(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(50)))
    index = formats.JsonlIndex(path)
    assert index[7] == {"id": 7}  # opens the handle in this process
    clone = pickle.loads(pickle.dumps(index))
    assert clone[49] == {"id": 49}
    loader = torch.utils.data.DataLoader(_Lines(index), batch_size=10, num_workers=2)
    assert torch.cat(list(loader)).tolist() == list(range(50))


@pytest.mark.slow
def test_jsonl_index_in_spawned_workers(tmp_path, monkeypatch):
    # Spawned children unpickle `_Lines` by its module name (tests.data.test_formats), which
    # pytest's importlib mode does not put on sys.path; the children inherit sys.path.
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(20)))
    index = formats.JsonlIndex(path)
    assert index[3] == {"id": 3}
    loader = torch.utils.data.DataLoader(_Lines(index), batch_size=5, num_workers=2,
                                         multiprocessing_context="spawn")
    assert torch.cat(list(loader)).tolist() == list(range(20))


def test_parse_record_kinds_and_leading_gpt():
    rec = formats.parse_record({"image": "a.jpg", "conversations": [
        {"from": "gpt", "value": "hello"}, {"from": "human", "value": "q"},
        {"from": "gpt", "value": "a"}]}, "f", 3)
    assert rec.kind == "single" and rec.images == ["a.jpg"] and len(rec.conversations) == 2
    assert rec.dropped_gpt_turn and rec.conversations[0] == {"from": "human", "value": "q"}
    multi = formats.parse_record({"id": 9, "image": ["a", "b"], "conversations": [
        {"from": "human", "value": "<image><image>"}, {"from": "gpt", "value": "a"}]}, "f", 1)
    assert multi.kind == "multi" and multi.id == "9"
    text = formats.parse_record({"conversations": [
        {"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}, "f", 1)
    assert text.kind == "text" and text.images == [] and text.id == "1"
    assert not text.dropped_gpt_turn
    for empty in ("", []):  # reference: len(image) == 0 falls through to pure text
        rec = formats.parse_record({"image": empty, "conversations": [
            {"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}, "f", 1)
        assert rec.kind == "text" and rec.images == []
    tagged = formats.parse_record({"image": "a.jpg", "conversations": [
        {"from": "human", "value": "<image>\nq"}, {"from": "gpt", "value": "a"},
        {"from": "human", "value": "q2"}, {"from": "gpt", "value": "a2"}]}, "f", 1)
    assert [t["value"] for t in tagged.conversations] == ["<image>\nq", "a", "q2", "a2"]


@pytest.mark.parametrize("obj,reason", [
    ({"conversations": []}, "non-empty list"),
    ({"conversations": [{"from": "human", "value": "q"}]}, "pairs"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "human", "value": "a"}]},
     "alternate"),
    ({"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "q"}]},
     "unsupported role 'system'"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": " "}]},
     "empty answer"),
    ({"image": ["a", "b"], "conversations": [{"from": "human", "value": "<image>"},
                                             {"from": "gpt", "value": "x"}]},
     "1 <image> tags for 2"),
    ({"image": "a", "conversations": [{"from": "human", "value": "<image><image>"},
                                      {"from": "gpt", "value": "x"}]}, "2 <image> tags for 1"),
    ({"conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "x"}]},
     "no image"),
    ({"video": "v.mp4", "conversations": []}, "video samples are not supported"),
    ({"image": 5, "conversations": []}, "'image' must be"),
    ({"image": ["a", 3], "conversations": []}, "non-empty path strings"),
    ({"conversations": [{"from": "human", "value": 3}, {"from": "gpt", "value": "a"}]},
     "turn 1: must be an object with a string 'value'"),
    ({"conversations": [{"from": "gpt", "value": "x"}, {"from": "human", "value": "q"},
                        {"from": "gpt", "value": ""}]}, "empty answer in turn 3"),
    ({"image": "a", "conversations": [{"from": "human", "value": "q"},
                                      {"from": "gpt", "value": "a <image>"}]},
     "<image> tag in the answer of turn 2"),
    ({"image": "a", "conversations": [{"from": "human", "value": "q"},
                                      {"from": "gpt", "value": "a"},
                                      {"from": "human", "value": "<image> q2"},
                                      {"from": "gpt", "value": "b"}]},
     "must be in the first question"),
    ({"image": ["a", "b"], "conversations": [{"from": "human", "value": "<image>" * 3},
                                             {"from": "gpt", "value": "x"}]},
     "3 <image> tags for 2 images"),
])
def test_parse_record_errors(obj, reason):
    with pytest.raises(SampleError, match=reason) as exc:
        formats.parse_record(obj, "data.jsonl", 12)
    assert str(exc.value).startswith("data.jsonl:12: ")


def test_resolve_image_path():
    assert formats.resolve_image_path("root", "a/b.jpg", "f", 1).endswith("root/a/b.jpg")
    assert formats.resolve_image_path("s3://bucket/x/", "a.jpg", "f", 1) == "s3://bucket/x/a.jpg"
    assert formats.resolve_image_path("root", "a/../b.jpg", "f", 1)  # stays under the root
    for rel, reason in [("../x.jpg", "escapes"), ("a/../../x.jpg", "escapes"),
                        ("/etc/passwd", "absolute")]:
        with pytest.raises(SampleError, match=reason):
            formats.resolve_image_path("root", rel, "f", 1)


def test_sample_errors_survive_pickling():
    from internvl_da.data.errors import TruncationError

    for error in (SampleError("f.jsonl", 3, "bad"), TruncationError("g.jsonl", None, "cut")):
        clone = pickle.loads(pickle.dumps(error))
        assert type(clone) is type(error) and str(clone) == str(error)
        assert (clone.source, clone.line, clone.reason) == (error.source, error.line,
                                                            error.reason)
