"""Issue 11, item 10: `convert` stopped by an error leaves no partial output folder."""

from __future__ import annotations

import errno

import pytest

from internvl_da.model import convert
from internvl_da.released import write_tiny_original


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    return write_tiny_original("qwen2", 0, tmp_path_factory.mktemp("orig") / "original")


def test_full_disk_while_writing_weights_leaves_no_output(original, tmp_path, monkeypatch):
    def full_disk(tensors, path, metadata=None):
        path.write_bytes(b"\0" * 100)  # what reached the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(convert, "save_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        convert.convert_to_native(original, tmp_path / "native")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither dst nor its staging


def test_error_after_weights_leaves_no_output(original, tmp_path, monkeypatch):
    """The weights are written, then a later step fails (the image processor here)."""
    def broken(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(convert, "save_image_processor", broken)
    with pytest.raises(RuntimeError, match="injected"):
        convert.convert_to_native(original, tmp_path / "native")
    assert not (tmp_path / "native").exists()
    assert not list(tmp_path.glob(".native.partial-*"))


def test_rerun_replaces_the_folder_as_a_whole(original, tmp_path):
    dst = tmp_path / "native"
    dst.mkdir()
    (dst / "model-00002-of-00002.safetensors").write_bytes(b"stale shard of an old run")
    convert.convert_to_native(original, dst)
    assert not (dst / "model-00002-of-00002.safetensors").exists()
    assert (dst / "model.safetensors").is_file() and (dst / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["native"]


def test_export_failure_leaves_no_output(original, tmp_path, monkeypatch):
    native = tmp_path / "native"
    convert.convert_to_native(original, native)

    def full_disk(tensors, path, metadata=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(convert, "save_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        convert.convert_to_internvl(native, tmp_path / "back")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["native"]


def test_output_must_not_be_the_source(original):
    with pytest.raises(ValueError, match="must not be or contain the source"):
        convert.convert_to_native(original, original)
    with pytest.raises(ValueError, match="must not be or contain the source"):
        convert.convert_to_native(original, original.parent)
