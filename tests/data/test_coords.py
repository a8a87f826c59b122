"""DriveLM tag and box coordinate transforms: spec formulas, round trips, reference quirks."""

from __future__ import annotations

import random

import pytest

from internvl_da.data import coords


def test_grid_and_spec_formulas():
    assert coords.CAMERA_GRID["CAM_FRONT_LEFT"] == (0, 0)
    assert coords.CAMERA_GRID["CAM_BACK_RIGHT"] == (2, 1)
    # CAM_FRONT (col 1): x = (896 + 800*896/1600) / 2688 * 1000 = 500.0
    assert coords.camera_to_stitched("CAM_FRONT", 800, 450) == pytest.approx((500.0, 250.0))
    # CAM_BACK_RIGHT (2, 1) at the bottom-right corner -> (1000, 1000)
    assert coords.camera_to_stitched("CAM_BACK_RIGHT", 1600, 900) == pytest.approx((1000, 1000))
    assert coords.stitched_to_camera("CAM_FRONT", 500.0, 250.0) == (800.0, 450.0)
    with pytest.raises(ValueError, match="unknown camera"):
        coords.camera_to_stitched("CAM_TOP", 0, 0)


def test_round_trip_every_camera():
    rng = random.Random(0)
    for cam in coords.CAMERA_ORDER:
        for _ in range(200):
            x, y = round(rng.uniform(0, 1600), 1), round(rng.uniform(0, 900), 1)
            back = coords.stitched_to_camera(cam, *coords.camera_to_stitched(cam, x, y))
            assert back == pytest.approx((x, y), abs=0.1 + 1e-9)


def test_back_projection_clamps_and_keeps_floats():
    # x_norm 0 on CAM_FRONT lies left of its cell -> clamped to 0.0, a float.
    x, y = coords.stitched_to_camera("CAM_FRONT", 0, 1000)
    assert (x, y) == (0.0, 900.0) and isinstance(x, float)
    assert coords.format_coord(0) == "0.0" and coords.format_coord(1600) == "1600.0"
    assert coords.format_coord(512.25) in ("512.2", "512.3")


def test_normalize_tags_integers_and_round_trip():
    text = "Is <c1,CAM_FRONT,800.0,450.0> near <c2,CAM_BACK_LEFT,1088.3,497.5>?"
    norm = coords.normalize_tags(text)
    assert norm == "Is <c1,CAM_FRONT,[500,250]> near <c2,CAM_BACK_LEFT,[227,776]>?"
    back, unconverted = coords.denormalize_tags(norm)
    assert unconverted == 0
    values = [float(v) for v in back.replace(">", ",").split(",") if v.replace(".", "").isdigit()]
    assert values == pytest.approx([800.0, 450.0, 1088.3, 497.5], abs=2.5)
    one_decimal = coords.normalize_tags(text, decimals=1)
    assert "<c2,CAM_BACK_LEFT,[226.7,776.4]>" in one_decimal


def test_denormalize_fixed_vs_reference_quirks():
    clamped = "<c1,CAM_FRONT,[0,1000]>"  # left of the FRONT cell, bottom edge
    assert coords.denormalize_tags(clamped, "fixed") == ("<c1,CAM_FRONT,0.0,900.0>", 0)
    assert coords.denormalize_tags(clamped, "reference") == ("<c1,CAM_FRONT,0,900>", 0)
    spaced = "<c1, CAM_FRONT, [500,250]>"
    assert coords.denormalize_tags(spaced, "fixed") == ("<c1,CAM_FRONT,800.0,450.0>", 0)
    assert coords.denormalize_tags(spaced, "reference") == (spaced, 1)
    dot = "<c1,CAM_FRONT,[.5,250]>"
    assert coords.denormalize_tags(dot, "reference") == (dot, 1)
    assert coords.denormalize_tags(dot, "fixed")[1] == 0
    unknown = "<c1,CAM_TOP,[1,2]>"
    assert coords.denormalize_tags(unknown) == (unknown, 1)
    assert coords.denormalize_tags("  <c1,CAM_FRONT,[500,250]> ahead ", "reference") == (
        "<c1,CAM_FRONT,800.0,450.0> ahead", 0)
    with pytest.raises(ValueError, match="mode"):
        coords.denormalize_tags("", "other")


def test_boxes():
    assert coords.normalize_box([312, 280, 505, 470], [800, 800]) == [390, 350, 631, 588]
    assert coords.normalize_box([-5, 0, 900, 800], [800, 800]) == [0, 0, 1000, 1000]
    assert coords.denormalize_box([390, 350, 631, 588], [800, 800]) == pytest.approx(
        [312.0, 280.0, 504.8, 470.4])
    assert coords.denormalize_box([-10, 0, 1200, 500], [800, 600]) == [0, 0, 800, 300.0]
