"""Coordinate transforms: DriveLM camera pixels <-> the stitched canvas, boxes <-> 0-1000.

DriveLM object tags `<c1,CAM_FRONT,1088.3,497.5>` carry the object's centre in the original
1600x900 camera image. Training and inference use `<c1,CAM_FRONT,[x,y]>` with x, y in 0-1000
on the 2688x896 stitched canvas (3x2 cells of 896x448). Spec: training.md §9.3 (forward, the
exact inverse of the evaluation back-projection) and evaluation.md §6.1 (back-projection with
its reference quirks). Grounding boxes use InternVL's 0-1000 normalisation (evaluation.md §4).
"""

from __future__ import annotations

import json
import re

CAMERA_ORDER = (
    "CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_BACK_LEFT", "CAM_BACK", "CAM_BACK_RIGHT",
)
CAMERA_GRID = {cam: (k % 3, k // 3) for k, cam in enumerate(CAMERA_ORDER)}  # cam -> (col, row)
CELL_W, CELL_H = 896, 448
CANVAS_W, CANVAS_H = 3 * CELL_W, 2 * CELL_H  # 2688 x 896
SOURCE_W, SOURCE_H = 1600, 900  # nuScenes camera size, hard-coded by the reference

# Raw DriveLM tag: <c1,CAM_FRONT,1088.3,497.5>
RAW_TAG = re.compile(r"<(c\d+),(CAM_[A-Z_]+),(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)>")
# Reference evaluation regex (drivelm/evaluate.py post_process)
_NUM = r"\s*-?[0-9]*\.?[0-9]+\s*"
NORMALISED_TAG = re.compile(r"<c[^,]*,\s*[^,]*,\s*\[" + _NUM + "," + _NUM + r"\]\s*>")


def format_coord(value: float) -> str:
    """Exactly one decimal (`0.0`, `1600.0`): DriveLM's scorer only reads `\\d+\\.\\d+`."""
    return f"{value:.1f}"


def _grid(cam: str) -> tuple[int, int]:
    try:
        return CAMERA_GRID[cam]
    except KeyError:
        raise ValueError(f"unknown camera {cam!r}; expected one of {CAMERA_ORDER}") from None


def camera_to_stitched(cam: str, x: float, y: float) -> tuple[float, float]:
    """Camera pixels (1600x900) -> 0-1000 on the stitched canvas (unrounded)."""
    col, row = _grid(cam)
    x_norm = (col * CELL_W + x * CELL_W / SOURCE_W) / CANVAS_W * 1000
    y_norm = (row * CELL_H + y * CELL_H / SOURCE_H) / CANVAS_H * 1000
    return x_norm, y_norm


def stitched_to_camera(cam: str, x_norm: float, y_norm: float) -> tuple[float, float]:
    """0-1000 on the canvas -> camera pixels, clamped to the image, rounded to one decimal."""
    x, y = _unclamped_camera(cam, x_norm, y_norm)
    # Clamp, then round, as the reference; float bounds so that edges stay floats (0.0, 1600.0)
    # and max(0.0, .) first so that -0.0 or -0.04 never print as "-0.0".
    return (round(max(0.0, min(float(SOURCE_W), x)), 1),
            round(max(0.0, min(float(SOURCE_H), y)), 1))


def _unclamped_camera(cam: str, x_norm: float, y_norm: float) -> tuple[float, float]:
    # Operation order of the reference post_process (matters for the last bit before rounding).
    col, row = _grid(cam)
    x = (x_norm / 1000 * CANVAS_W - col * CELL_W) / CELL_W * SOURCE_W
    y = (y_norm / 1000 * CANVAS_H - row * CELL_H) / CELL_H * SOURCE_H
    return x, y


def normalize_tags(text: str, decimals: int = 0) -> str:
    """Rewrite raw tags `<c1,CAM_FRONT,1088.3,497.5>` as `<c1,CAM_FRONT,[x,y]>` on the canvas.

    Decision (training.md §9.3 leaves integer vs one decimal [verify]): `decimals=0` writes
    integers, InternVL's convention for 0-1000 coordinates (grounding boxes are integers too)
    and the shortest token sequence. Python's round() (half to even) is used; `decimals > 0`
    formats with that many decimals. Quantisation error after back-projection: integers
    <= 2.43 px in x and <= 0.95 px in y (0.5 unit = 2.38 / 0.90 px, plus the one-decimal
    rounding), far below the DriveLM matcher's L1 < 16 px; `decimals=2` round-trips every
    one-decimal source value exactly. The evaluation regex accepts all of these.
    Unknown cameras raise ValueError.
    """

    def rewrite(match: re.Match) -> str:
        ctag, cam, x, y = match.groups()
        x_norm, y_norm = camera_to_stitched(cam, float(x), float(y))
        if decimals == 0:
            return f"<{ctag},{cam},[{round(x_norm)},{round(y_norm)}]>"
        return f"<{ctag},{cam},[{x_norm:.{decimals}f},{y_norm:.{decimals}f}]>"

    return RAW_TAG.sub(rewrite, text)


def _reference_clamp(value: float, high: int) -> float | int:
    # Reference: round(max(0, min(high, v)), 1) with int bounds. min/max return the int bound
    # when v is beyond it *or equal to it* (ties keep the first argument), and round(int, 1)
    # stays an int: such values print as `0`, `1600`, `900`. 1599.96 -> 1600.0 (a float).
    return round(max(0, min(high, value)), 1)


def _back_project(tag: str, mode: str) -> str | None:
    """Converted tag text, or None when the tag stays unconverted."""
    fields = tag.replace("<", "").replace(">", "").split(",")
    ctag, cam = fields[0], fields[1]
    try:
        if mode == "fixed":
            ctag, cam = ctag.strip(), cam.strip()
            cx, cy = (float(v) for v in ",".join(fields[2:]).strip().strip("[]").split(","))
        else:
            cx, cy = json.loads(",".join(fields[2:]))
    except (ValueError, TypeError):
        return None
    if cam not in CAMERA_GRID:
        return None
    if mode == "fixed":
        x, y = stitched_to_camera(cam, cx, cy)
        return f"<{ctag},{cam},{format_coord(x)},{format_coord(y)}>"
    x, y = _unclamped_camera(cam, cx, cy)
    return f"<{ctag},{cam},{_reference_clamp(x, SOURCE_W)},{_reference_clamp(y, SOURCE_H)}>"


def denormalize_tags(text: str, mode: str = "fixed") -> tuple[str, int]:
    """Back-project every normalised tag of a prediction; returns (text, unconverted count).

    Both modes strip the text and match the reference regex (evaluation.md §6.1); a tag that
    cannot be converted stays as it is and is counted (per occurrence).
    mode "fixed": fields whitespace-stripped, any number the regex admits (`.5`, `05`)
    accepted, values clamped then rounded and always written with one decimal.
    mode "reference": InternVL's `post_process` behaviour (camera not stripped, numbers parsed
    with json.loads so `.5`/`05` fail, values clamped to the bounds printed as integers).
    """
    if mode not in ("fixed", "reference"):
        raise ValueError(f"mode must be 'fixed' or 'reference', got {mode!r}")
    text = text.strip()
    unconverted = 0
    for tag in NORMALISED_TAG.findall(text):
        converted = _back_project(tag, mode)
        if converted is None:
            unconverted += 1
        else:
            text = text.replace(tag, converted)
    return text, unconverted


def normalize_box(box, size) -> list[int]:
    """Pixel box [x1, y1, x2, y2] on an image of size [W, H] -> integers in 0-1000.

    Each value is v * 1000 / W (or H), rounded with Python's round() (nearest, ties to even)
    and clamped to [0, 1000]; InternVL writes grounding boxes as such integers. Rounding (not
    truncation) keeps the error <= 0.5 unit (0.4 px on DIOR's 800x800) in both directions.
    """
    width, height = size
    scales = (width, height, width, height)
    return [min(max(round(v * 1000 / s), 0), 1000) for v, s in zip(box, scales, strict=True)]
