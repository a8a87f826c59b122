"""Issue 11, item 9: stitching under faults never leaves a truncated JPEG under its final name
nor a temp file inside the (DVC-tracked) output folder, and a rerun repairs a truncated one."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from internvl_da.data.coords import CAMERA_ORDER
from internvl_da.prep import stitch


@pytest.fixture()
def drivelm(tmp_path):
    """Three frames, six 1600x900 cameras each, as DriveLM's `../nuscenes` paths expect."""
    raw = {"scene": {"key_frames": {}}}
    for f in range(3):
        paths = {}
        for k, cam in enumerate(CAMERA_ORDER):
            rel = f"nuscenes/samples/{cam}/f{f}_{cam}.jpg"
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (1600, 900), (40 * k, 30 * f, 200)).save(tmp_path / rel)
            paths[cam] = "../" + rel
        raw["scene"]["key_frames"][f"frame{f}"] = {"image_paths": paths}
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(raw))
    return tmp_path, ann


def reference_bytes(root, ann, tmp_path) -> dict[str, bytes]:
    out = tmp_path / "clean"
    stitch.stitch_all(root, ann, out)
    return {p.name: p.read_bytes() for p in out.glob("*.jpg")}


def listing(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir())


def test_full_disk_leaves_no_partial_jpeg_and_rerun_completes(drivelm, tmp_path, monkeypatch):
    """ENOSPC while the second frame's JPEG is half written (injected OSError)."""
    root, ann = drivelm
    expected = reference_bytes(root, ann, tmp_path)
    real_save = Image.Image.save
    calls = []

    def full_disk(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 2:  # what reached the disk before it filled (path or handle)
            if hasattr(fp, "write"):
                fp.write(b"\xff\xd8" + b"\0" * 500)
            else:
                Path(fp).write_bytes(b"\xff\xd8" + b"\0" * 500)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", full_disk)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space left"):
        stitch.stitch_all(root, ann, out)
    assert listing(out) == ["scene_frame0.jpg", stitch.MANIFEST_NAME]  # no partial, no .tmp
    assert not list(tmp_path.glob(".out.partial-*"))  # staging removed on the error path
    monkeypatch.setattr(Image.Image, "save", real_save)
    summary = stitch.stitch_all(root, ann, out)
    assert (summary.written, summary.skipped) == (2, 1)
    assert {p.name: p.read_bytes() for p in out.glob("*.jpg")} == expected


def test_rerun_replaces_a_truncated_jpeg(drivelm, tmp_path):
    """What the old non-atomic writer left on a nearly full disk: a cut JPEG under its final
    name, which a rerun kept as "already present"."""
    root, ann = drivelm
    expected = reference_bytes(root, ann, tmp_path)
    out = tmp_path / "out"
    stitch.stitch_all(root, ann, out)
    cut = out / "scene_frame1.jpg"
    cut.write_bytes(expected["scene_frame1.jpg"][: len(expected["scene_frame1.jpg"]) // 2])
    assert not stitch.is_whole_jpeg(cut)
    summary = stitch.stitch_all(root, ann, out)
    assert (summary.written, summary.skipped, summary.replaced) == (1, 2, 1)
    assert "1 present but incomplete, stitched again" in str(summary)
    assert cut.read_bytes() == expected["scene_frame1.jpg"]


KILL_SCRIPT = """
import os, signal, sys
from PIL import Image
from internvl_da.prep import stitch

real_save, calls = Image.Image.save, []

def dying(self, fp, *args, **kwargs):
    calls.append(fp)
    if len(calls) == 2:  # the second frame: half its bytes on disk, then SIGKILL
        if hasattr(fp, "write"):
            fp.write(b"\\xff\\xd8" + b"\\0" * 500)
            fp.flush()
        else:
            open(fp, "wb").write(b"\\xff\\xd8" + b"\\0" * 500)
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(self, fp, *args, **kwargs)

Image.Image.save = dying
stitch.stitch_all(sys.argv[1], sys.argv[2], sys.argv[3])
"""


def test_sigkill_mid_write_leaves_output_folder_clean(drivelm, tmp_path):
    """kill -9 while a JPEG is being written: the output folder (a DVC out) holds only whole
    JPEGs and the manifest; the stray temp folder is a sibling, removed by the next run."""
    root, ann = drivelm
    expected = reference_bytes(root, ann, tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(root), str(ann), str(out)],
                          env=env, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert listing(out) == ["scene_frame0.jpg", stitch.MANIFEST_NAME]
    assert stitch.is_whole_jpeg(out / "scene_frame0.jpg")
    assert len(list(tmp_path.glob(".out.partial-*"))) == 1  # the killed run's, outside `out`
    summary = stitch.stitch_all(root, ann, out)
    assert (summary.written, summary.skipped) == (2, 1)
    assert not list(tmp_path.glob(".out.partial-*"))
    assert {p.name: p.read_bytes() for p in out.glob("*.jpg")} == expected


def test_camera_error_in_one_worker_leaves_no_temp_file(drivelm, tmp_path):
    """The flaky `test_camera_errors_name_frame_and_file`: one worker's camera error stops the
    pool while another writes; nothing of that write may stay behind, in or next to `out`."""
    root, ann = drivelm
    (root / "nuscenes/samples/CAM_BACK/f0_CAM_BACK.jpg").write_bytes(b"not a jpeg")
    for _ in range(3):
        with pytest.raises(stitch.SampleError, match="camera CAM_BACK image unreadable"):
            stitch.stitch_all(root, ann, tmp_path / "o", workers=3)
        assert not [p for p in (tmp_path / "o").iterdir() if p.name.endswith(".tmp")]
        assert not list(tmp_path.glob(".o.partial-*"))
        assert all(stitch.is_whole_jpeg(p) for p in (tmp_path / "o").glob("*.jpg"))
