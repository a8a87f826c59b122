"""Issue 11 item 8: a full disk or a kill never leaves predictions.jsonl ending mid-line.

Before, a full disk left the file ending mid-line and the rerun after freeing space failed with
a bare JSONDecodeError naming no file. The disk here is a byte budget on `os.write` (the only
writer fileio uses): writes go through until it is spent, the one that crosses it is cut short,
the next fails with ENOSPC, as on a full tmpfs.
"""

from __future__ import annotations

import errno
import json
import os

import pytest
from PIL import Image

from internvl_da.eval.generate import GenerationSettings
from internvl_da.eval.runner import evaluate_files
from internvl_da.fileio import LineAppender, write_json
from internvl_da.model.tiny import build_tiny_model

SETTINGS = GenerationSettings("Hermes-2", 64, 4)


class FullDisk:
    """`os.write` with `budget` bytes of free space left."""

    def __init__(self, monkeypatch, budget: int) -> None:
        self.budget, self._write = budget, os.write
        monkeypatch.setattr(os, "write", self)

    def __call__(self, fd: int, data) -> int:
        if self.budget <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = self._write(fd, bytes(data[:self.budget]))
        self.budget -= written
        return written


@pytest.fixture()
def inputs(tmp_path):
    (tmp_path / "img").mkdir()
    records = []
    for i in range(5):
        Image.new("RGB", (32, 32), (40 * i, 90, 0)).save(tmp_path / f"img/{i}.tif")
        records.append({"id": i, "image": f"{i}.tif", "question": f"Field {i}?",
                        "gt_answer": "no", "type": "presence"})
    (tmp_path / "test.json").write_text(json.dumps(records))
    return tmp_path / "test.json", tmp_path / "img"


def _run(inputs, out):
    model, tok = build_tiny_model("qwen2", seed=0)
    return evaluate_files("rsvqa-lr", model, tok, SETTINGS, *inputs, out, batch_size=2,
                          options={"max_new_tokens": 4, "max_num": 2})


def test_full_disk_leaves_complete_lines_and_the_rerun_finishes_regression_bare_json_error(
        inputs, tmp_path, monkeypatch):
    reference = _run(inputs, tmp_path / "ref")
    lines = (tmp_path / "ref/predictions.jsonl").read_bytes().splitlines(keepends=True)
    identity = (tmp_path / "ref/identity.json").stat().st_size
    # room for identity.json, the first batch (2 lines) and half of the second batch
    disk = FullDisk(monkeypatch, identity + len(b"".join(lines[:2])) + len(lines[2]) // 2)
    out = tmp_path / "out"
    with pytest.raises(OSError, match=r"could not append \(No space left on device\); cut "
                                      r"back to its last complete line") as caught:
        _run(inputs, out)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename.endswith(
        "out/predictions.jsonl")
    assert disk.budget == 0
    assert (out / "predictions.jsonl").read_bytes() == b"".join(lines[:2])
    assert sorted(p.name for p in out.iterdir()) == ["identity.json", "predictions.jsonl"]
    monkeypatch.undo()  # space freed: the rerun resumes and ends with the same bytes
    assert _run(inputs, out) == reference
    assert (out / "predictions.jsonl").read_bytes() == b"".join(lines)


def test_trailing_partial_line_is_cut_and_reported(inputs, tmp_path, capsys):
    """A kill during an append (or a file from before this fix) ends mid-line."""
    reference = _run(inputs, tmp_path / "ref")
    whole = (tmp_path / "ref/predictions.jsonl").read_bytes()
    lines = whole.splitlines(keepends=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "identity.json").write_bytes((tmp_path / "ref/identity.json").read_bytes())
    (out / "predictions.jsonl").write_bytes(b"".join(lines[:3]) + lines[3][:25])
    capsys.readouterr()
    assert _run(inputs, out) == reference
    assert f"{out / 'predictions.jsonl'}:4: incomplete last line (an interrupted write) " \
           "removed; that sample is predicted again" in capsys.readouterr().err
    assert (out / "predictions.jsonl").read_bytes() == whole


def test_corrupt_line_inside_the_file_names_file_and_line(inputs, tmp_path):
    _run(inputs, tmp_path / "out")
    path = tmp_path / "out/predictions.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "{\"id\": 1, \"predic\n" + "".join(lines[2:]))
    with pytest.raises(ValueError, match=r"out/predictions\.jsonl:2: invalid JSON") as caught:
        _run(inputs, tmp_path / "out")
    assert not isinstance(caught.value, json.JSONDecodeError)


def test_appender_cuts_back_and_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "p.jsonl"
    with LineAppender(path) as appender:
        appender.append([{"id": 0}])
        FullDisk(monkeypatch, 5)
        with pytest.raises(OSError, match="could not append"):
            appender.append([{"id": 1, "prediction": "x" * 50}])
        monkeypatch.undo()
        appender.append([{"id": 2}])
    assert path.read_text() == '{"id": 0}\n{"id": 2}\n'
    write_json(tmp_path / "metrics.json", {"overall": 0.5})
    FullDisk(monkeypatch, 4)
    with pytest.raises(OSError, match=r"not written \(No space left on device\); the previous "
                                      r"file, if any, is unchanged"):
        write_json(tmp_path / "metrics.json", {"overall": 0.75})
    monkeypatch.undo()
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"overall": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "p.jsonl"]
