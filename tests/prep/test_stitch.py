"""Stitching: reference geometry and encoding, path fix, validation, skip/force, workers."""

from __future__ import annotations

import hashlib
import io
import json
import random

import numpy as np
import PIL
import pytest
from PIL import Image, ImageDraw, ImageFont

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


def frame_paths(root, raw, frame="frame0"):
    return {c: stitch.resolve_camera_path(root, p)
            for c, p in raw["scene"]["key_frames"][frame]["image_paths"].items()}


def test_canvas_matches_reference_geometry_and_captions(drivelm):
    root, _, raw = drivelm
    paths = frame_paths(root, raw)
    canvas = stitch.stitch_frame(paths, stitch.find_font(), "scene_frame0")
    assert canvas.size == (2688, 896) and canvas.mode == "RGB"
    arr = np.asarray(canvas)
    font = ImageFont.truetype(str(stitch.find_font()), 50)
    for k, cam in enumerate(CAMERA_ORDER):
        expected = np.asarray(Image.open(paths[cam]).convert("RGB").resize(
            (896, 448), Image.Resampling.BICUBIC))
        x0, y0 = (k % 3) * 896, (k // 3) * 448  # row k // 3, col k % 3
        cell = arr[y0:y0 + 448, x0:x0 + 896]
        # Outside the caption's box the cell is exactly the BICUBIC resize.
        _, _, right, bottom = font.getbbox(cam)
        outside = np.ones((448, 896), bool)
        outside[:bottom, :right] = False
        assert np.array_equal(cell[outside], expected[outside]), cam
        # Where the glyphs cover a pixel fully it is magenta (255, 0, 255).
        coverage = Image.new("L", (896, 448))
        ImageDraw.Draw(coverage).text((0, 0), cam, 255, font=font)
        full = np.asarray(coverage) == 255
        assert full.sum() > 1000
        assert (cell[full] == [255, 0, 255]).all()


def test_output_is_pillow_default_jpeg_and_manifest(drivelm, tmp_path):
    root, ann, raw = drivelm
    summary = stitch.stitch_all(root, ann, tmp_path / "out")
    assert (summary.frames, summary.written, summary.skipped) == (2, 2, 0)
    buffer = io.BytesIO()
    stitch.stitch_frame(frame_paths(root, raw), stitch.find_font()).save(buffer, format="JPEG")
    out = tmp_path / "out" / "scene_frame0.jpg"
    assert out.read_bytes() == buffer.getvalue()
    q75 = io.BytesIO()
    stitch.stitch_frame(frame_paths(root, raw), stitch.find_font()).save(q75, "JPEG", quality=75)
    assert out.read_bytes() == q75.getvalue()
    assert Image.open(out).size == (2688, 896)
    manifest = json.loads((tmp_path / "out" / stitch.MANIFEST_NAME).read_text())
    font_sha = hashlib.sha256(stitch.find_font().read_bytes()).hexdigest()
    assert manifest["font_sha256"] == font_sha and manifest["font_size"] == 50
    assert manifest["pillow"] == PIL.__version__
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "scene_frame0.jpg", "scene_frame1.jpg", stitch.MANIFEST_NAME]  # no temp files left


def test_default_out_is_root_stitch_skip_and_force(drivelm):
    root, ann, _ = drivelm
    first = stitch.stitch_all(root, ann)
    out = root / "stitch" / "scene_frame1.jpg"
    assert out.is_file() and first.written == 2
    original = out.read_bytes()
    kept = io.BytesIO()
    Image.new("RGB", (2688, 896)).save(kept, format="JPEG")  # a whole JPEG, other pixels
    out.write_bytes(kept.getvalue())
    again = stitch.stitch_all(root, ann)
    assert (again.written, again.skipped, again.replaced) == (0, 2, 0)
    assert out.read_bytes() == kept.getvalue()
    assert stitch.stitch_all(root, ann, force=True).written == 2
    assert out.read_bytes() == original


def test_kept_outputs_need_a_matching_manifest(drivelm, tmp_path):
    root, ann, _ = drivelm
    stitch.stitch_all(root, ann, tmp_path / "o")
    manifest = tmp_path / "o" / stitch.MANIFEST_NAME
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "font_sha256": "x"}))
    with pytest.raises(ValueError, match="differs in font_sha256; pass --force"):
        stitch.stitch_all(root, ann, tmp_path / "o")
    other = tmp_path / "other.json"  # another split into the same folder is checked too
    other.write_text(json.dumps({"s2": {"key_frames": {}}}))
    with pytest.raises(ValueError, match="differs in font_sha256"):
        stitch.stitch_all(root, other, tmp_path / "o")
    manifest.unlink()
    with pytest.raises(ValueError, match="is missing"):
        stitch.stitch_all(root, ann, tmp_path / "o")
    assert stitch.stitch_all(root, other, tmp_path / "o").written == 0  # nothing kept: fine
    manifest.unlink()
    assert stitch.stitch_all(root, ann, tmp_path / "o", force=True).written == 2
    assert stitch.stitch_all(root, ann, tmp_path / "o").skipped == 2


def test_two_workers_same_bytes(drivelm, tmp_path):
    root, ann, _ = drivelm
    stitch.stitch_all(root, ann, tmp_path / "w1", workers=1)
    stitch.stitch_all(root, ann, tmp_path / "w2", workers=2)
    for name in ("scene_frame0.jpg", "scene_frame1.jpg", stitch.MANIFEST_NAME):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes()


def test_reference_path_bug_fixed(drivelm, tmp_path):
    assert str(stitch.resolve_camera_path("/data/root", "../nuscenes/samples/CAM_BACK/x.jpg")) \
        == "/data/root/nuscenes/samples/CAM_BACK/x.jpg"
    root, ann, _ = drivelm  # the fixture's files live only under root/nuscenes/samples
    assert stitch.stitch_all(root, ann, tmp_path / "p").written == 2


def test_camera_errors_name_frame_and_file(drivelm, tmp_path):
    root, ann, raw = drivelm
    path = root / raw["scene"]["key_frames"]["frame0"]["image_paths"]["CAM_BACK"][3:]
    camera(1, (1280, 720)).save(path)
    with pytest.raises(SampleError, match=r"f0_CAM_BACK\.jpg: frame scene_frame0: camera "
                                          "CAM_BACK is 1280x720, expected 1600x900"):
        stitch.stitch_all(root, ann, tmp_path / "o")
    path.write_bytes(b"not a jpeg")
    with pytest.raises(SampleError, match="camera CAM_BACK image unreadable"):
        stitch.stitch_all(root, ann, tmp_path / "o", workers=2)  # re-raised from a worker
    path.unlink()
    with pytest.raises(SampleError, match=r"f0_CAM_BACK\.jpg: frame scene_frame0: camera "
                                          "CAM_BACK image not found"):
        stitch.stitch_all(root, ann, tmp_path / "o")
    assert not list((tmp_path / "o").glob(".*.tmp"))
    assert not list(tmp_path.glob(".o.partial-*"))  # the staging sibling goes on errors too


def test_annotation_errors_and_duplicates(drivelm):
    root, _, raw = drivelm
    paths = raw["scene"]["key_frames"]["frame0"]["image_paths"]
    # "a_b" + "c" and "a" + "b_c" give one frame id: reported, stitched once
    dup = {"a_b": {"key_frames": {"c": {"image_paths": paths}}},
           "a": {"key_frames": {"b_c": {"image_paths": paths}}}}
    frames, duplicates = stitch.list_frames(dup, root)
    assert [fid for fid, _ in frames] == ["a_b_c"] and duplicates == ["a_b_c"]
    other = raw["scene"]["key_frames"]["frame1"]["image_paths"]
    dup["a"]["key_frames"]["b_c"]["image_paths"] = other
    with pytest.raises(SampleError, match="duplicate frame id a_b_c with different image paths"):
        stitch.list_frames(dup, root, "ann.json")
    del raw["scene"]["key_frames"]["frame1"]["image_paths"]["CAM_FRONT"]
    with pytest.raises(SampleError, match=r"frame scene_frame1: no image path for \['CAM_FRONT'\]"):
        stitch.list_frames(raw, root)
    with pytest.raises(SampleError, match="scene s: no 'key_frames' object"):
        stitch.list_frames({"s": {}}, root)


def test_duplicates_reported_in_summary(drivelm, tmp_path):
    root, _, raw = drivelm
    paths = raw["scene"]["key_frames"]["frame0"]["image_paths"]
    ann = tmp_path / "dup.json"
    ann.write_text(json.dumps({"a_b": {"key_frames": {"c": {"image_paths": paths}}},
                               "a": {"key_frames": {"b_c": {"image_paths": paths}}}}))
    summary = stitch.stitch_all(root, ann, tmp_path / "d")
    assert summary.written == 1 and summary.duplicates == ("a_b_c",)
    assert "1 duplicate frame ids stitched once: a_b_c" in str(summary)


def test_font_and_option_errors(drivelm, tmp_path):
    root, ann, _ = drivelm
    with pytest.raises(FileNotFoundError, match="fonts-dejavu-core"):
        stitch.find_font(tmp_path / "none.ttf")
    with pytest.raises(FileNotFoundError, match=r"none\.ttf"):
        stitch.stitch_all(root, ann, font_path=tmp_path / "none.ttf")
    assert stitch.find_font(stitch.find_font()) == stitch.find_font()
    with pytest.raises(ValueError, match="workers must be >= 1"):
        stitch.stitch_all(root, ann, workers=0)


def test_cli(drivelm, tmp_path, capsys):
    root, ann, _ = drivelm
    assert main(["prep", "stitch-drivelm", "--data-root", str(root), "--ann-file", str(ann),
                 "--out", str(tmp_path / "cli"), "--font", str(stitch.find_font())]) == 0
    assert "stitched 2 frames" in capsys.readouterr().out
    assert (tmp_path / "cli" / "scene_frame0.jpg").is_file()
