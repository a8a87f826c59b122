"""DIOR-RSVG scoring: hand-computed cases for every reference rule (evaluation.md §4.4)."""

from __future__ import annotations

import pytest

from internvl_da.eval.dior_rsvg import (
    GT_COLOR,
    PRED_COLOR,
    draw_boxes,
    draw_record,
    iou_plus_one,
    judge,
    parse_box,
    score,
    write_drawings,
)

SIZE = [800, 800]


def record(prediction, answer=(100, 100, 299, 299)):
    return {"prediction": prediction, "answer": list(answer), "image_size": SIZE}


def test_parse_first_double_bracket_box_only():
    assert parse_box("<ref>x</ref><box>[[125, 125, 375, 375]]</box>", SIZE) == \
        [100.0, 100.0, 300.0, 300.0]
    assert parse_box("[1, 2, 3, 4]", SIZE) is None  # bare box: element 0 is a number
    assert parse_box("no box here", SIZE) is None
    assert parse_box(None, SIZE) is None
    assert parse_box("[[1, 2, 3]]", SIZE) is None  # three coordinates: no regex match
    assert parse_box("[[a, b, c, d]]", SIZE) is None  # not JSON
    # Only the first match counts, even if a later one would be right.
    assert parse_box("[[0, 0, 10, 10]] then [[125, 125, 375, 375]]", SIZE) == [0, 0, 8.0, 8.0]
    # Clamped to the image, corners not reordered.
    assert parse_box("[[1200, -50, 100, 500]]", [800, 600]) == [800, 0, 80.0, 300.0]


def test_iou_plus_one_convention():
    assert iou_plus_one([0, 0, 9, 9], [0, 0, 9, 9]) == 1.0
    # 10x10 boxes overlapping in a 5x10 strip: inter 50, union 150 with the +1 convention.
    assert iou_plus_one([0, 0, 9, 9], [5, 0, 14, 9]) == pytest.approx(50 / 150)
    assert iou_plus_one([0, 0, 9, 9], [20, 20, 29, 29]) == 0.0


def test_strictly_greater_than_half():
    # Boxes [0,0,9,9] and [0,0,9,y2]: with y2 = 19 the IoU is 100/200 = exactly 0.5 -> wrong.
    exact = {"prediction": "[[0, 0, 11.25, 23.75]]", "answer": [0, 0, 9, 9],
             "image_size": SIZE}  # -> pixels [0, 0, 9, 19]
    assert judge(exact)["iou"] == pytest.approx(0.5)
    assert judge(exact)["correct"] is False
    assert judge(record("[[125, 125, 375, 375]]"))["correct"] is True


def test_score_counts_unparseable_as_wrong():
    metrics = score([record("[[125, 125, 375, 375]]"), record("[125, 125, 375, 375]"),
                     record("")])
    assert metrics == {"acc@0.5": pytest.approx(1 / 3), "correct": 1, "total": 3}


def drawing_records(tmp_path, predictions):
    from PIL import Image

    path = tmp_path / "scene.png"
    Image.new("RGB", (100, 80), (255, 255, 255)).save(path)
    return [{"id": k, "image": str(path), "prediction": p, "answer": [10, 10, 49, 39],
             "image_size": [100, 80]} for k, p in enumerate(predictions)]


def colors(png: bytes):
    from io import BytesIO

    from PIL import Image

    return Image.open(BytesIO(png)).convert("RGB")


def test_draw_boxes_green_truth_red_prediction(tmp_path):
    # [[200, 250, 500, 625]] on 100x80 -> pixels [20, 20, 50, 50]
    records = drawing_records(tmp_path, ["<box>[[200, 250, 500, 625]]</box>"])
    [path] = draw_boxes(records, tmp_path / "out")
    assert path.name == "000_0.png"
    image = colors(path.read_bytes())
    assert image.size == (100, 80)
    assert image.getpixel((10, 30)) == GT_COLOR  # left edge of the truth
    assert image.getpixel((50, 45)) == PRED_COLOR  # right edge of the prediction
    assert image.getpixel((35, 30)) == (255, 255, 255)  # inside both: untouched


def test_draw_boxes_unparsed_and_swapped(tmp_path):
    records = drawing_records(tmp_path, ["no box", "[[500, 625, 200, 250]]"])
    unparsed, swapped = draw_boxes(records, tmp_path / "out")
    assert PRED_COLOR not in [c for _, c in colors(unparsed.read_bytes()).getcolors(10000)]
    assert colors(swapped.read_bytes()).getpixel((50, 45)) == PRED_COLOR  # drawn, reordered


def test_draw_boxes_deterministic_and_limited(tmp_path):
    records = drawing_records(tmp_path, ["[[200, 250, 500, 625]]"] * 5)
    first = draw_boxes(records, tmp_path / "a", n=3)
    second = draw_boxes(records, tmp_path / "b", n=3)
    assert [p.name for p in first] == ["000_0.png", "001_1.png", "002_2.png"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert draw_record(records[0]) == first[0].read_bytes()


def test_draw_boxes_errors_and_runner_hook(tmp_path):
    records = drawing_records(tmp_path, ["[[1, 2, 3, 4]]"])
    write_drawings(records, tmp_path / "run")
    assert [p.name for p in (tmp_path / "run" / "drawings").iterdir()] == ["000_0.png"]
    with pytest.raises(FileNotFoundError, match=r"record 7: image .*missing.png not found"):
        draw_boxes([dict(records[0], id=7, image=str(tmp_path / "missing.png"))], tmp_path)


def test_numeric_string_box_is_wrong_regression_reference_cannot_compute_on_strings():
    """Regression (issue 10 item 5): `[["166","296","855","840"]]` was scored correct after
    float(); the reference divides the strings (TypeError), so the item is wrong."""
    strings = {"prediction": '<box>[["166","296","855","840"]]</box>',
               "answer": [132.8, 236.8, 684.0, 672.0], "image_size": SIZE}
    assert parse_box(strings["prediction"], SIZE) is None
    assert judge(strings)["correct"] is False
    numbers = {**strings, "prediction": "<box>[[166, 296, 855, 840]]</box>"}
    assert judge(numbers)["correct"] is True  # the same box as numbers is right
    assert parse_box('[["a", [1], 2, 3]]', SIZE) is None and parse_box("[[[1, 2], 3, 4, 5]]",
                                                                        SIZE) is None


def test_pixels_in_the_reference_operation_order():
    """x / 1000 * W, as `transform_bbox`; x * W / 1000 differs in the last bit here."""
    x, width = 7, 800  # 5.6000000000000005 vs 5.6
    assert x / 1000 * width != x * width / 1000
    assert parse_box(f"[[{x}, {x}, 10, 10]]", [width, width])[:2] == [x / 1000 * width] * 2


def test_load_reads_the_released_file_and_names_bad_records(tmp_path):
    import json

    from internvl_da.eval.dior_rsvg import load

    path = tmp_path / "dior_rsvg_test.json"
    path.write_text(json.dumps([
        {"image": "DIOR-RSVG/JPEGImages/00123.jpg", "prompt": "<ref>the overpass</ref>",
         "bbox": [312, 280, 505, 470], "size": [800, 800]},
        {"image": "DIOR-RSVG/JPEGImages/00124.jpg", "prompt": "<ref>a ship</ref>",
         "bbox": [1, 2, 3], "size": [800, 800]}]))
    with pytest.raises(ValueError, match=r"dior_rsvg_test\.json: record 2: field 'bbox' must "
                                         r"be 4 numbers"):
        load(path, tmp_path / "images")
    path.write_text(json.dumps([{"image": "DIOR-RSVG/JPEGImages/00123.jpg",
                                 "prompt": "<ref>the overpass</ref>",
                                 "bbox": [312, 280, 505, 470], "size": [800, 800]}]))
    assert load(path, tmp_path / "images") == [{
        "id": 0, "question": "Detect <ref>the overpass</ref>",
        "image": str(tmp_path / "images/DIOR-RSVG/JPEGImages/00123.jpg"),
        "answer": [312, 280, 505, 470], "image_size": [800, 800]}]
