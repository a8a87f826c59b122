"""DIOR-RSVG visual grounding, scored exactly as the reference `rs_det/caculate.py`.

Data: the released `val/dior_rsvg_test.json` (images under `images/`, records name
`DIOR-RSVG/JPEGImages/...`) or the project's conversion, same format: a JSON list
`{image, prompt, bbox [x1,y1,x2,y2] pixels, size [W,H]}` (evaluation.md §4.1).
Prompt: 'Detect ' + prompt; the answer is `<ref>...</ref><box>[[x1, y1, x2, y2]]</box>` in
0-1000 coordinates; max_new_tokens 200.
Metric (§4.4): the FIRST match of the reference regex, parsed with json.loads and element [0]
taken (a bare [x1, y1, x2, y2] therefore fails; so does a box of numeric strings, on which the
reference cannot compute), mapped back to pixels (x/1000*W, y/1000*H in the reference's
operation order, clamped, corners not reordered), IoU with the +1-pixel convention on float
coordinates, correct iff IoU > 0.5 (strict). Unparseable predictions are wrong.
Paper (Table 11): Acc@0.5 x 100; DA-1B 89.73, DA-2B 89.24, DA-4B 92.04.
Drawings (`draw_boxes`): the first records as PNGs, ground truth in green, the parsed prediction
in red, the IoU written in the corner.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from internvl_da.eval.records import need, read_json_list
from internvl_da.fileio import write_bytes_atomic

GT_COLOR, PRED_COLOR = (0, 200, 0), (230, 0, 0)
DRAWINGS = "drawings"
BOX_PATTERN = re.compile(r"\[*\[.*?,.*?,.*?,.*?\]\]*")  # reference regex, verbatim

# Fields a predictions record needs (checked by `internvl-da score`).
FIELDS = {"id": (int, str), "prediction": (str, type(None)), "answer": list,
          "image_size": list}


def to_pixels(box: list, size) -> list[float]:
    """0-1000 box -> pixels as the reference `transform_bbox`: x / 1000 * W (this order: it
    differs from x * W / 1000 in the last bit for about one value in five), clamped to [0, W]."""
    x1, y1, x2, y2 = box
    width, height = size
    return [min(max(x1 / 1000 * width, 0), width), min(max(y1 / 1000 * height, 0), height),
            min(max(x2 / 1000 * width, 0), width), min(max(y2 / 1000 * height, 0), height)]


def parse_box(prediction: str | None, size) -> list[float] | None:
    """The predicted box in pixels, or None when the reference would count the item wrong.

    Element [0] of the first match must be a list of four JSON numbers: the reference divides
    them, so strings (`[["166","296","855","840"]]`) or nested lists raise there (wrong)."""
    matches = BOX_PATTERN.findall(prediction or "")
    if not matches:
        return None
    try:
        box = json.loads(matches[0])[0]
    except (ValueError, TypeError, IndexError, KeyError):
        return None
    if not isinstance(box, list) or len(box) != 4 \
            or not all(isinstance(v, int | float) for v in box):
        return None
    return to_pixels(box, size)


def iou_plus_one(a, b) -> float:
    """IoU with the +1-pixel convention, on float coordinates (reference computation)."""
    ix1, iy1 = max(a[0], b[0]), max(a[1], b[1])
    ix2, iy2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix2 - ix1 + 1) * max(0.0, iy2 - iy1 + 1)
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / (area_a + area_b - inter)


def judge(record: dict) -> dict:
    """{correct, box, iou} of one prediction record (answer in pixels, image_size [W, H])."""
    box = parse_box(record["prediction"], record["image_size"])
    if box is None:
        return {"correct": False, "box": None, "iou": None}
    iou = iou_plus_one(box, record["answer"])
    return {"correct": iou > 0.5, "box": box, "iou": iou}


def score(records: list[dict]) -> dict:
    correct = sum(judge(r)["correct"] for r in records)
    return {"acc@0.5": correct / len(records) if records else None, "correct": correct,
            "total": len(records)}


def _numbers(record: dict, key: str, count: int, where: str) -> list:
    value = need(record, key, list, where)
    if len(value) != count or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                      for v in value):
        raise ValueError(f"{where}: field {key!r} must be {count} numbers, found {value!r:.80}")
    return value


def load(annotation: Path, image_root: Path) -> list[dict]:
    """Items {id (index), question ('Detect ' + prompt), image, answer (pixels), image_size}."""
    items = []
    for k, (where, r) in enumerate(read_json_list(annotation)):
        items.append({"id": k, "question": "Detect " + need(r, "prompt", str, where),
                      "image": str(image_root / need(r, "image", str, where)),
                      "answer": _numbers(r, "bbox", 4, where),
                      "image_size": _numbers(r, "size", 2, where)})
    return items


def _corners(box) -> list[float]:
    """Drawing only: a predicted box may have swapped corners (the scorer keeps them)."""
    return [min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])]


def draw_record(record: dict) -> bytes:
    """PNG bytes of one record's image with the GT box (green), the prediction (red), the IoU."""
    from io import BytesIO

    from PIL import Image, ImageDraw, ImageFont

    path = Path(record["image"])
    if not path.is_file():
        raise FileNotFoundError(f"record {record['id']}: image {path} not found")
    with Image.open(path) as source:
        image = source.convert("RGB")
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 200))
    draw.rectangle(_corners(record["answer"]), outline=GT_COLOR, width=width)
    result = judge(record)
    if result["box"] is not None:
        draw.rectangle(_corners(result["box"]), outline=PRED_COLOR, width=width)
    label = ("no box parsed (wrong)" if result["iou"] is None else
             f"IoU {result['iou']:.3f} ({'correct' if result['correct'] else 'wrong'})")
    font = ImageFont.load_default(size=max(12, image.size[1] // 25))
    draw.rectangle(draw.textbbox((4, 4), label, font=font), fill=(0, 0, 0))
    draw.text((4, 4), label, fill=(255, 255, 255), font=font)
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def draw_boxes(records: list[dict], out_dir: str | Path, n: int = 8) -> list[Path]:
    """Write `<k>_<id>.png` for the first n records (same records -> same bytes)."""
    written = []
    for k, record in enumerate(records[:n]):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(record["id"]))
        path = Path(out_dir) / f"{k:03d}_{name}.png"
        write_bytes_atomic(path, draw_record(record))
        written.append(path)
    return written


def write_drawings(records: list[dict], out: Path) -> None:
    """Runner hook (`Benchmark.write_outputs`): drawings of the first 8 records in out/drawings."""
    draw_boxes(records, out / DRAWINGS)
