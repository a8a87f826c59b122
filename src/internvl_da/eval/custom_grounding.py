"""Your own domain, task `grounding`: Acc@0.5 with the standard IoU, DIOR-RSVG's as an option.

Prompt: 'Detect <ref>phrase</ref>'; the answer `<ref>phrase</ref><box>[[x1, y1, x2, y2]]</box>`
in 0-1000 coordinates (DIOR-RSVG's, evaluation.md §4.2). The box is read as DIOR-RSVG reads it
(dior_rsvg.parse_box: first match, element [0], x / 1000 * W, clamped); no box = wrong.
`iou="standard"` (default): the usual continuous IoU of pixel boxes (area = w x h), correct iff
IoU >= 0.5, as RefCOCO-style grounding evaluations (InternVL's evaluate_grounding.py: torchvision
box_iou, `>= 0.5`) [verify]. `iou="dior"`: the DIOR-RSVG rule of evaluation.md §4.4 (+1-pixel
areas, IoU > 0.5 strictly), to compare with the paper's Table 11 convention.
"""

from __future__ import annotations

from internvl_da.eval import dior_rsvg

FIELDS = {"id": (int, str), "prediction": (str, type(None)), "answer": list,
          "image_size": list}
IOU_RULES = ("standard", "dior")


def iou_standard(a, b) -> float:
    """Intersection over union of [x1, y1, x2, y2] boxes, areas (x2 - x1) * (y2 - y1)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _rule(iou: str) -> str:
    if iou not in IOU_RULES:
        raise ValueError(f"iou rule {iou!r}: choose from {', '.join(IOU_RULES)}")
    return iou


def judge(record: dict, iou: str = "standard") -> dict:
    """{correct, box (pixels), iou} of one prediction record."""
    box = dior_rsvg.parse_box(record["prediction"], record["image_size"])
    if box is None:
        return {"correct": False, "box": None, "iou": None}
    if _rule(iou) == "dior":
        value = dior_rsvg.iou_plus_one(box, record["answer"])
        return {"correct": value > 0.5, "box": box, "iou": value}
    value = iou_standard(box, record["answer"])
    return {"correct": value >= 0.5, "box": box, "iou": value}


def score(records: list[dict], iou: str = "standard") -> dict:
    correct = sum(judge(r, _rule(iou))["correct"] for r in records)
    total = len(records)
    return {"task": "grounding", "acc@0.5": round(correct / total, 4) if total else None,
            "correct": correct, "total": total, "iou": iou}
