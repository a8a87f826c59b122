"""DriveLM tag and box coordinate transforms: spec formulas, round trips, reference quirks."""

from __future__ import annotations

import re

import pytest

from internvl_da.data import coords


def test_grid_and_constants():
    assert coords.CAMERA_ORDER == ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT",
                                   "CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT")
    # training.md §9.3 table: (col, row)
    assert coords.CAMERA_GRID == {"CAM_FRONT_LEFT": (0, 0), "CAM_FRONT": (1, 0),
                                  "CAM_FRONT_RIGHT": (2, 0), "CAM_BACK_LEFT": (0, 1),
                                  "CAM_BACK": (1, 1), "CAM_BACK_RIGHT": (2, 1)}
    assert (coords.CELL_W, coords.CELL_H, coords.CANVAS_W, coords.CANVAS_H) == (896, 448, 2688, 896)
    assert (coords.SOURCE_W, coords.SOURCE_H) == (1600, 900)


def test_spec_formulas_on_hand_computed_points():
    # CAM_FRONT (1, 0): x = (896 + 800*896/1600) / 2688 * 1000 = 1344/2.688 = 500
    assert coords.camera_to_stitched("CAM_FRONT", 800, 450) == pytest.approx((500.0, 250.0))
    # CAM_BACK_LEFT (0, 1): x = 1088.3*0.56/2.688 = 226.72917, y = (448 + 497.5*448/900)/0.896
    assert coords.camera_to_stitched("CAM_BACK_LEFT", 1088.3, 497.5) == pytest.approx(
        (226.7291667, 776.3888889))
    assert coords.camera_to_stitched("CAM_BACK_RIGHT", 1600, 900) == pytest.approx((1000, 1000))
    assert coords.camera_to_stitched("CAM_FRONT_LEFT", 0, 0) == (0.0, 0.0)
    # Back: CAM_BACK (1, 1) at (600, 800): x = (1612.8 - 896)/896*1600 = 1280.0,
    # y = (716.8 - 448)/448*900 = 540.0
    assert coords.stitched_to_camera("CAM_BACK", 600, 800) == (1280.0, 540.0)
    assert coords.stitched_to_camera("CAM_FRONT", 500.0, 250.0) == (800.0, 450.0)
    for func in (coords.camera_to_stitched, coords.stitched_to_camera):
        with pytest.raises(ValueError, match="unknown camera 'CAM_TOP'"):
            func("CAM_TOP", 0, 0)


def test_round_trip_on_a_grid_of_every_camera():
    xs = [0.0, 0.1, 1.6, 333.3, 799.9, 800.0, 1234.5, 1599.9, 1600.0]
    ys = [0.0, 0.1, 0.9, 449.9, 450.0, 777.7, 899.9, 900.0]
    for cam in coords.CAMERA_ORDER:
        for x in xs:
            for y in ys:
                back = coords.stitched_to_camera(cam, *coords.camera_to_stitched(cam, x, y))
                assert back == pytest.approx((x, y), abs=0.1 + 1e-9), (cam, x, y)


def test_two_decimal_tokens_round_trip_every_one_decimal_pixel_exactly():
    # Every x on the 0.1 px grid of one row and every y of one column, all six cameras.
    for cam in coords.CAMERA_ORDER:
        for i in range(0, 16001, 7):
            x = i / 10
            x_norm, y_norm = coords.camera_to_stitched(cam, x, 450.0)
            assert coords.stitched_to_camera(cam, round(x_norm, 2), round(y_norm, 2)) == (x, 450.0)
        for j in range(0, 9001, 3):
            y = j / 10
            x_norm, y_norm = coords.camera_to_stitched(cam, 800.0, y)
            assert coords.stitched_to_camera(cam, round(x_norm, 2), round(y_norm, 2)) == (800.0, y)


def test_back_projection_clamps_rounds_and_keeps_floats():
    # x_norm 0 on CAM_FRONT lies left of its cell; y_norm 1000 is below the top row's cell.
    x, y = coords.stitched_to_camera("CAM_FRONT", 0, 1000)
    assert (x, y) == (0.0, 900.0) and isinstance(x, float) and isinstance(y, float)
    assert coords.stitched_to_camera("CAM_FRONT_RIGHT", 1000, 500) == (1600.0, 900.0)
    # -0.04 px and -0.0 must not become "-0.0"
    for x_norm in (-0.0, -0.01):
        x, _ = coords.stitched_to_camera("CAM_FRONT_LEFT", x_norm, 0)
        assert coords.format_coord(x) == "0.0"
    # 1.23456 px -> 1.2
    assert coords.stitched_to_camera("CAM_FRONT_LEFT", 1.23456 / 1600 * 896 / 2.688, 0)[0] == 1.2


def test_format_coord_always_one_decimal():
    assert [coords.format_coord(v) for v in (0, 1600, 900.0, 512.34, 7.05)] == [
        "0.0", "1600.0", "900.0", "512.3", "7.0"]  # 7.05 is 7.04999.. in binary
    assert re.fullmatch(r"\d+\.\d", coords.format_coord(1599.96))


def test_normalize_tags_integers_by_default():
    text = "Is <c1,CAM_FRONT,800.0,450.0> near <c2,CAM_BACK_LEFT,1088.3,497.5>?"
    assert coords.normalize_tags(text) == (
        "Is <c1,CAM_FRONT,[500,250]> near <c2,CAM_BACK_LEFT,[227,776]>?")
    assert coords.normalize_tags(text, decimals=1) == (
        "Is <c1,CAM_FRONT,[500.0,250.0]> near <c2,CAM_BACK_LEFT,[226.7,776.4]>?")
    assert coords.normalize_tags("<c3,CAM_BACK,12,34>") == "<c3,CAM_BACK,[336,519]>"
    assert coords.normalize_tags("no tags here") == "no tags here"
    with pytest.raises(ValueError, match="unknown camera 'CAM_TOP'"):
        coords.normalize_tags("<c1,CAM_TOP,1.0,2.0>")


def test_integer_tags_round_trip_within_the_quantisation_bound():
    raw = [(cam, x / 10, y / 10) for cam in coords.CAMERA_ORDER
           for x in range(0, 16001, 977) for y in range(0, 9001, 613)]
    text = " ".join(f"<c{i},{cam},{x:.1f},{y:.1f}>" for i, (cam, x, y) in enumerate(raw))
    back, unconverted = coords.denormalize_tags(coords.normalize_tags(text))
    assert unconverted == 0
    found = re.findall(r"<c\d+,(CAM_[A-Z_]+),(\d+\.\d),(\d+\.\d)>", back)
    assert len(found) == len(raw)
    for (cam, x, y), (cam2, x2, y2) in zip(raw, found, strict=True):
        # 0.5 unit = 2.381 px in x and 0.9 px in y, plus the one-decimal rounding
        assert cam2 == cam and abs(float(x2) - x) <= 2.44 and abs(float(y2) - y) <= 0.96


def test_denormalize_clamped_values():
    clamped = "<c1,CAM_FRONT,[0,1000]>"  # left of the FRONT cell, bottom edge
    assert coords.denormalize_tags(clamped, "fixed") == ("<c1,CAM_FRONT,0.0,900.0>", 0)
    # reference: min/max against int bounds return the int -> printed without a decimal
    assert coords.denormalize_tags(clamped, "reference") == ("<c1,CAM_FRONT,0,900>", 0)
    # exactly on the bound: min(1600, 1600.0) keeps the int too
    edge = "<c1,CAM_FRONT_RIGHT,[1000,250]>"
    assert coords.denormalize_tags(edge, "reference") == ("<c1,CAM_FRONT_RIGHT,1600,450.0>", 0)
    assert coords.denormalize_tags(edge, "fixed") == ("<c1,CAM_FRONT_RIGHT,1600.0,450.0>", 0)
    # 1599.952 is clamped before rounding in the reference: a float 1600.0, not the int
    near = "<c1,CAM_FRONT_RIGHT,[999.99,250]>"
    assert coords.denormalize_tags(near, "reference") == ("<c1,CAM_FRONT_RIGHT,1600.0,450.0>", 0)


def test_denormalize_reference_quirks_vs_fixed():
    spaced = "<c1, CAM_FRONT, [500,250]>"  # cam ' CAM_FRONT' is not a camera in the reference
    assert coords.denormalize_tags(spaced, "fixed") == ("<c1,CAM_FRONT,800.0,450.0>", 0)
    assert coords.denormalize_tags(spaced, "reference") == (spaced, 1)
    inner = "<c1,CAM_FRONT,[ 500 , 250 ] >"  # JSON accepts the inner spaces
    for mode in ("fixed", "reference"):
        assert coords.denormalize_tags(inner, mode) == ("<c1,CAM_FRONT,800.0,450.0>", 0)
    for bad_json in ("<c1,CAM_FRONT,[.5,250]>", "<c1,CAM_FRONT,[05,250]>"):
        assert coords.denormalize_tags(bad_json, "reference") == (bad_json, 1)
        assert coords.denormalize_tags(bad_json, "fixed") == ("<c1,CAM_FRONT,0.0,450.0>", 0)
    unknown = "<c1,CAM_TOP,[1,2]>"
    for mode in ("fixed", "reference"):
        assert coords.denormalize_tags(unknown, mode) == (unknown, 1)


def test_denormalize_text_handling():
    # The prediction is stripped; every occurrence is replaced and counted per occurrence.
    text = "  <c1,CAM_FRONT,[500,250]> then <c1,CAM_FRONT,[500,250]> and <c2,CAM_X,[1,2]> "
    for mode in ("fixed", "reference"):
        assert coords.denormalize_tags(text, mode) == (
            "<c1,CAM_FRONT,800.0,450.0> then <c1,CAM_FRONT,800.0,450.0> and "
            "<c2,CAM_X,[1,2]>", 1)
    # raw camera-pixel tags and plain text are left alone and not counted
    assert coords.denormalize_tags("<c1,CAM_FRONT,800.0,450.0> ok") == (
        "<c1,CAM_FRONT,800.0,450.0> ok", 0)
    with pytest.raises(ValueError, match="mode"):
        coords.denormalize_tags("", "other")


def test_boxes():
    # 312*1000/800 = 390, 505*1.25 = 631.25 -> 631, 470*1.25 = 587.5 -> 588 (half to even)
    assert coords.normalize_box([312, 280, 505, 470], [800, 800]) == [390, 350, 631, 588]
    assert coords.normalize_box([1, 1, 3, 5], [800, 800]) == [1, 1, 4, 6]  # 1.25, 3.75, 6.25
    assert coords.normalize_box([-5, 0, 900, 800], [800, 800]) == [0, 0, 1000, 1000]
    assert coords.normalize_box([10, 10, 20, 20], [1000, 500]) == [10, 20, 20, 40]
    with pytest.raises(ValueError):
        coords.normalize_box([1, 2, 3], [800, 800])
