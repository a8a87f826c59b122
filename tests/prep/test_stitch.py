"""Stitching: reference geometry and encoding, path fix, size validation, skip/force, workers."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from internvl_da.cli import main
from internvl_da.data.coords import CAMERA_ORDER
from internvl_da.data.errors import SampleError
from internvl_da.prep import stitch


def camera(seed, size=(1600, 900)):
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(5):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle((x, y, x + 200, y + 150), fill=tuple(rng.randrange(256) for _ in range(3)))
    return img


@pytest.fixture()
def drivelm(tmp_path):
    """Two frames with six cameras each, laid out as the DriveLM paths expect."""
    raw = {"scene": {"key_frames": {}}}
    for f in range(2):
        paths = {}
        for k, cam in enumerate(CAMERA_ORDER):
            rel = f"nuscenes/samples/{cam}/f{f}_{cam}.jpg"
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            camera(f * 10 + k).save(tmp_path / rel, quality=90)
            paths[cam] = "../" + rel
        raw["scene"]["key_frames"][f"frame{f}"] = {"image_paths": paths, "QA": {}}
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(raw))
    return tmp_path, ann, raw


def test_canvas_matches_reference_geometry(drivelm):
    root, _, raw = drivelm
    paths = {c: stitch.resolve_camera_path(root, p)
             for c, p in raw["scene"]["key_frames"]["frame0"]["image_paths"].items()}
    canvas = stitch.stitch_frame(paths, stitch.find_font(), "scene_frame0")
    assert canvas.size == (2688, 896)
    arr = np.asarray(canvas)
    for k, cam in enumerate(CAMERA_ORDER):
        expected = np.asarray(Image.open(paths[cam]).convert("RGB").resize((896, 448)))
        x0, y0 = (k % 3) * 896, (k // 3) * 448
        cell = arr[y0:y0 + 448, x0:x0 + 896]
        # Outside the caption box (top-left, 50 px font) the cell is the BICUBIC resize.
        assert np.array_equal(cell[70:], expected[70:])
        assert np.array_equal(cell[:, 600:], expected[:, 600:])
        caption = cell[:60, :450].reshape(-1, 3)
        assert (caption == [255, 0, 255]).all(axis=1).sum() > 500


def test_output_is_pillow_default_jpeg(drivelm, tmp_path):
    root, ann, raw = drivelm
    summary = stitch.stitch_all(root, ann, tmp_path / "out")
    assert summary.written == 2 and summary.frames == 2
    out = tmp_path / "out" / "scene_frame0.jpg"
    paths = {c: stitch.resolve_camera_path(root, p)
             for c, p in raw["scene"]["key_frames"]["frame0"]["image_paths"].items()}
    buffer = io.BytesIO()
    stitch.stitch_frame(paths, stitch.find_font()).save(buffer, format="JPEG")  # defaults: q75
    assert out.read_bytes() == buffer.getvalue()
    manifest = json.loads((tmp_path / "out" / stitch.MANIFEST_NAME).read_text())
    assert manifest["font_file"] == "DejaVuSans-Bold.ttf" and len(manifest["font_sha256"]) == 64


def test_default_out_is_root_stitch_and_skip_force(drivelm):
    root, ann, _ = drivelm
    first = stitch.stitch_all(root, ann)
    assert (root / "stitch" / "scene_frame1.jpg").is_file() and first.written == 2
    again = stitch.stitch_all(root, ann)
    assert again.written == 0 and again.skipped == 2
    assert stitch.stitch_all(root, ann, force=True).written == 2


def test_two_workers_same_bytes(drivelm, tmp_path):
    root, ann, _ = drivelm
    stitch.stitch_all(root, ann, tmp_path / "w1", workers=1)
    stitch.stitch_all(root, ann, tmp_path / "w2", workers=2)
    for name in ("scene_frame0.jpg", "scene_frame1.jpg"):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes()


def test_reference_path_bug_fixed():
    assert str(stitch.resolve_camera_path("/data/root", "../nuscenes/samples/CAM_BACK/x.jpg")) \
        == "/data/root/nuscenes/samples/CAM_BACK/x.jpg"


def test_errors(drivelm, tmp_path):
    root, ann, raw = drivelm
    paths = raw["scene"]["key_frames"]["frame0"]["image_paths"]
    camera(1, (1280, 720)).save(root / paths["CAM_BACK"].removeprefix("../"))
    with pytest.raises(SampleError, match="CAM_BACK is 1280x720, expected 1600x900"):
        stitch.stitch_all(root, ann, tmp_path / "o")
    (root / paths["CAM_BACK"].removeprefix("../")).unlink()
    with pytest.raises(SampleError, match=r"f0_CAM_BACK\.jpg: frame scene_frame0: camera "
                                          "CAM_BACK image not found"):
        stitch.stitch_all(root, ann, tmp_path / "o")
    with pytest.raises(FileNotFoundError, match="fonts-dejavu-core"):
        stitch.find_font(tmp_path / "none.ttf")
    del raw["scene"]["key_frames"]["frame1"]["image_paths"]["CAM_FRONT"]
    with pytest.raises(SampleError, match=r"no image path for \['CAM_FRONT'\]"):
        stitch.list_frames(raw, root)


def test_cli(drivelm, tmp_path, capsys):
    root, ann, _ = drivelm
    assert main(["prep", "stitch-drivelm", "--data-root", str(root), "--ann-file", str(ann),
                 "--out", str(tmp_path / "cli")]) == 0
    assert "stitched 2 frames" in capsys.readouterr().out
