"""Sample data, driving part: nuScenes-like cameras + DriveLM v1.1 JSON, MME-RealWorld JSON.

Formats: docs/data-formats.md; DriveLM raw format spec training.md §9.1; MME-RealWorld record
evaluation.md §5.1. Objects are large flat shapes (car = square, truck = triangle,
pedestrian = circle) so that a tiny model can learn them; whether an object moves is visible
too (warm colours move), since a random flag would be noise no model could learn from an image.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from internvl_da.data.coords import CAMERA_ORDER, format_coord
from internvl_da.prep import synthetic

if TYPE_CHECKING:
    from internvl_da.prep.sample import Writer

CATEGORY = {"square": "car", "triangle": "truck", "circle": "pedestrian"}
CAM_W, CAM_H = 1600, 900
MME_INSTRUCTION_E = "(E) All the above answers are wrong."
NOTICE_QUESTION = ("What object should the ego vehicle notice first when the ego vehicle is "
                   "getting to the next possible location?")
MOVING_COLOURS = ("red", "yellow")  # half the palette: "Is <c> moving?" is yes/no 50/50


def is_moving(shape: synthetic.Shape) -> bool:
    return shape.colour in MOVING_COLOURS


def _hex(rng: random.Random, n: int = 32) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _tag(index: int, cam: str, shape: synthetic.Shape) -> str:
    x, y = shape.centre
    return f"<c{index},{cam},{format_coord(x)},{format_coord(y)}>"


def _frame_objects(rng: random.Random) -> dict[str, synthetic.Scene]:
    # Every frame has 2..4 objects spread over the six cameras; other cameras are empty.
    busy = set(rng.sample(CAMERA_ORDER, rng.randint(2, 3)))
    return {cam: synthetic.random_scene(rng, CAM_W, CAM_H, rng.randint(1, 2) if cam in busy
                                        else 0, size_range=(0.3, 0.45)) for cam in CAMERA_ORDER}


def _where(cam: str) -> str:
    return cam.removeprefix("CAM_").lower().replace("_", " ")


def _first(objects: list[tuple[str, synthetic.Shape]], tags: list[str]) -> str:
    """The object to notice first: the first one ahead (CAM_FRONT), else the first listed."""
    ahead = [tag for (cam, _), tag in zip(objects, tags, strict=True) if cam == "CAM_FRONT"]
    return (ahead or tags)[0]


def _qa(rng: random.Random, scenes: dict[str, synthetic.Scene]) -> dict[str, list[dict]]:
    objects = [(cam, s) for cam in CAMERA_ORDER for s in scenes[cam].shapes]
    tags = [_tag(i + 1, cam, s) for i, (cam, s) in enumerate(objects)]
    listing = ", ".join(f"a {s.colour} {CATEGORY[s.kind]} to the {_where(cam)} of the ego "
                        f"vehicle {tag}" for (cam, s), tag in zip(objects, tags, strict=True))
    # `tag`: the DriveLM scorer's metric per QA (0 exact match, 1 ChatGPT, 2 language,
    # 3 coordinate match), evaluation.md §6.3.
    qa = {"perception": [{"Q": "What are the important objects in the current scene?",
                          "A": f"There is {listing}.", "tag": [2]}],
          "prediction": [], "planning": [], "behavior": []}
    for (_, shape), tag in zip(objects, tags, strict=True):
        qa["perception"].append({"Q": f"What is the colour of {tag}?", "A": shape.colour,
                                 "tag": [0]})
        truth = CATEGORY[shape.kind]
        others = sorted(c for c in CATEGORY.values() if c != truth)
        asked = truth if rng.random() < 0.5 else rng.choice(others)  # yes/no 50/50
        qa["perception"].append({"Q": f"Is {tag} a {asked}?",
                                 "A": "Yes." if truth == asked else "No.", "tag": [0]})
        qa["prediction"].append({"Q": f"Is {tag} moving?",
                                 "A": "Yes." if is_moving(shape) else "No.", "tag": [0]})
    qa["planning"].append({"Q": NOTICE_QUESTION, "A": f"Firstly, notice {_first(objects, tags)}.",
                           "tag": [3]})
    blocked = any(not is_moving(s) for s in scenes["CAM_FRONT"].shapes)
    qa["planning"].append({"Q": "What actions should the ego vehicle take?",
                           "A": "Slow down and stop." if blocked else "Keep going straight.",
                           "tag": [1]})
    qa["behavior"].append({"Q": "Predict the behavior of the ego vehicle.",
                           "A": "The ego vehicle is slowing down." if blocked else
                           "The ego vehicle is going straight.", "tag": [1]})
    for items in qa.values():
        for item in items:
            item.update({"C": None, "con_up": None, "con_down": None, "cluster": None,
                         "layer": None})
    return qa


def _key_objects(scenes: dict[str, synthetic.Scene]) -> dict[str, dict]:
    objects = [(cam, s) for cam in CAMERA_ORDER for s in scenes[cam].shapes]
    return {_tag(i + 1, cam, s): {
        "Category": "Vehicle" if s.kind != "circle" else "Pedestrian",
        "Status": "Moving" if is_moving(s) else "Stationary",
        "Visual_description": f"{s.colour.capitalize()} {CATEGORY[s.kind]}.",
        "2d_bbox": [float(v) for v in s.box]} for i, (cam, s) in enumerate(objects)}


def write_drivelm(writer: Writer, rng: random.Random, n_train: int, n_val: int) -> dict:
    """Camera JPEGs under nuscenes/samples and the three DriveLM annotation files."""
    splits: dict[str, dict] = {"train": {}, "val": {}}
    for split, frames in (("train", n_train), ("val", n_val)):
        scene_token = _hex(rng)
        splits[split][scene_token] = {"scene_description": "A synthetic road scene.",
                                      "key_frames": {}}
        for _ in writer.progress(range(frames), f"drivelm {split}"):
            frame_token, stamp = _hex(rng), rng.randrange(10**15, 10**16)
            scenes = _frame_objects(rng)
            paths = {}
            for cam in CAMERA_ORDER:
                name = f"n015-sample+0800__{cam}__{stamp}.jpg"
                writer.image(f"nuscenes/samples/{cam}/{name}", synthetic.render(scenes[cam]))
                paths[cam] = f"../nuscenes/samples/{cam}/{name}"
            splits[split][scene_token]["key_frames"][frame_token] = {
                "key_object_infos": _key_objects(scenes), "QA": _qa(rng, scenes),
                "image_paths": paths}
    writer.json("drivelm/v1_1_train_nus.json", splits["train"])
    writer.json("drivelm/v1_1_val_nus.json", splits["val"])
    writer.json("drivelm/v1_1_val_nus_q_only.json", _without_answers(splits["val"]))
    return {"frames": n_train + n_val, "camera_images": 6 * (n_train + n_val)}


def _without_answers(raw: dict) -> dict:
    out = {}
    for scene, info in raw.items():
        frames = {}
        for frame, data in info["key_frames"].items():
            qa = {part: [{k: v for k, v in item.items() if k != "A"} for item in items]
                  for part, items in data["QA"].items()}
            frames[frame] = {**data, "QA": qa}
        out[scene] = {**info, "key_frames": frames}
    return out


def write_mme_realworld(writer: Writer, rng: random.Random, n: int) -> dict:
    """Autonomous-driving multiple-choice questions in MME-RealWorld's release format."""
    records = []
    for k in writer.progress(range(n), "mme-realworld"):
        scene = synthetic.random_scene(rng, CAM_W, CAM_H, rng.randint(1, 4), (0.25, 0.4))
        name = f"AutonomousDriving/nuScenes/sample__CAM_FRONT__{k:04d}.jpg"
        writer.image(f"mme_realworld/data/{name}", synthetic.render(scene))
        kind = rng.choice(synthetic.SHAPES)
        truth = scene.count(kind=kind)
        values = [*sorted({truth, *rng.sample(range(0, 6), 4)} - {truth})[:3], truth]
        rng.shuffle(values)
        letters = "ABCD"
        choices = [f"({letters[i]}) {v}" for i, v in enumerate(values)] + [MME_INSTRUCTION_E]
        records.append({
            "Question_id": f"Perception/Autonomous_Driving/Objects_Count/{k:04d}",
            "Question Type": "Multiple Choice", "Image": name,
            "Text": f"This image shows the front view of the ego car. How many "
                    f"{CATEGORY[kind]}s are in the image?",
            "Answer choices": choices, "Ground truth": letters[values.index(truth)],
            "Task": "Perception", "Subtask": "Autonomous_Driving", "Category": "Objects_Count",
            "Dataset": "nuScenes"})
    writer.json("mme_realworld/MME_RealWorld.json", records)
    return {"questions": n}
