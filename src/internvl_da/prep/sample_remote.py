"""Sample data, remote-sensing part: RSVQA-LR/HR raw JSONs, DIOR-RSVG VOC, GeoChat JSONL.

Formats: docs/data-formats.md. RSVQA question types and answers follow evaluation.md §3.1
(LR: presence, comp, rural_urban, count; HR: presence, comp, count, area as `{n}m2`).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from internvl_da.prep import synthetic

if TYPE_CHECKING:
    from internvl_da.prep.sample import Writer

M2_PER_PIXEL = 0.25  # HR "area" answers: square metres per pixel of the synthetic image


WATER_COLOUR = "blue"  # the synthetic scenes' "water": any blue shape
WATER_QUESTION = "Is there a water area?"


def water_presence_question(scene: synthetic.Scene) -> tuple[str, str]:
    """'Is there a water area?': yes iff a blue shape is drawn (about half the scenes).

    The wording is fixed, so the answer depends on the image alone: the one yes/no question of
    the sample a tiny model learns in minutes (a yes/no that compares a word of the question with
    the image stays at chance for the tiny configs; README, status).
    """
    return WATER_QUESTION, "yes" if scene.has(colour=WATER_COLOUR) else "no"


def _rsvqa_questions(rng: random.Random, scene: synthetic.Scene, types: tuple[str, ...]):
    out = []
    for qtype in types:
        if qtype == "presence":
            out.append(("presence", *synthetic.presence_question(rng, scene)))
            out.append(("presence", *water_presence_question(scene)))
        elif qtype == "comp":
            out.append(("comp", *synthetic.comparison_question(rng, scene)))
        elif qtype == "count":
            out.append(("count", *synthetic.count_question(rng, scene)))
        elif qtype == "rural_urban":
            out.append(("rural_urban", "Is it a rural or an urban area?",
                        "urban" if len(scene.shapes) >= 3 else "rural"))
        elif qtype == "area":
            kind = rng.choice(synthetic.SHAPES)
            area = sum(s.area for s in scene.shapes if s.kind == kind) * M2_PER_PIXEL
            out.append(("area", f"What is the area covered by {kind}s?", f"{round(area)}m2"))
    return out


def _write_rsvqa_split(writer: Writer, rng: random.Random, prefix: str, image_dir: str,
                       size: int, n_images: int, types: tuple[str, ...], first_id: int) -> int:
    questions, answers, images = [], [], []
    for offset in writer.progress(range(n_images), prefix):
        img_id = first_id + offset
        scene = synthetic.random_scene(rng, size, size, rng.randint(1, 4), (0.2, 0.32))
        writer.image(f"{image_dir}/{img_id}.tif", synthetic.render(scene), fmt="TIFF")
        qids = []
        for qtype, question, answer in _rsvqa_questions(rng, scene, types):
            qid = img_id * 100 + len(qids)
            active = rng.random() > 0.03  # a few inactive entries, as in the release
            questions.append({"id": qid, "img_id": img_id, "type": qtype, "question": question,
                              "answers_ids": [qid], "active": active})
            answers.append({"id": qid, "question_id": qid, "answer": answer, "active": active})
            qids.append(qid)
        images.append({"id": img_id, "questions_ids": qids, "active": True})
    writer.json(f"{prefix}_questions.json", {"questions": questions})
    writer.json(f"{prefix}_answers.json", {"answers": answers})
    writer.json(f"{prefix}_images.json", {"images": images})
    return len(questions)


def write_rsvqa(writer: Writer, rng: random.Random, scale: int) -> dict:
    """LR and HR splits; image ids run on across a variant's splits, so no split shares one."""
    variants = (
        ("lr", "rsvqa/LR/LR_split", "rsvqa/LR/Images_LR", 256,
         ("presence", "comp", "rural_urban", "count"), (("train", 60), ("test", 8))),
        ("hr", "rsvqa/HR/USGS_split", "rsvqa/HR/Data", 512,
         ("presence", "comp", "count", "area"), (("train", 8), ("test", 3), ("test_phili", 2))),
    )
    counts = {}
    for variant, prefix, image_dir, size, types, splits in variants:
        first_id = 0
        for split, per_scale in splits:
            counts[f"{variant}_{split}"] = _write_rsvqa_split(
                writer, rng, f"{prefix}_{split}", image_dir, size, per_scale * scale, types,
                first_id)
            first_id += per_scale * scale
    return counts


def _voc_xml(stem: str, scene: synthetic.Scene, descriptions: list[str]) -> str:
    objects = "".join(
        f"<object><name>{s.kind}</name><bndbox><xmin>{s.box[0]}</xmin><ymin>{s.box[1]}</ymin>"
        f"<xmax>{s.box[2]}</xmax><ymax>{s.box[3]}</ymax></bndbox>"
        f"<description>{escape(d)}</description></object>"
        for s, d in zip(scene.shapes, descriptions, strict=True))
    return (f"<annotation><filename>{stem}.jpg</filename><size><width>{scene.width}</width>"
            f"<height>{scene.height}</height><depth>3</depth></size>{objects}</annotation>\n")


def write_dior_rsvg(writer: Writer, rng: random.Random, n_images: int) -> dict:
    stems, n_objects = [], 0
    for k in writer.progress(range(n_images), "dior-rsvg"):
        stem = f"{k + 1:05d}"
        keep: list[int] = []
        while not keep:  # every listed image has a referring expression (else prep refuses it)
            scene = synthetic.random_scene(rng, 800, 800, rng.randint(1, 3), (0.2, 0.35))
            descriptions = [synthetic.describe(s, scene.width) for s in scene.shapes]
            keep = [i for i, d in enumerate(descriptions) if descriptions.count(d) == 1]
        scene = synthetic.Scene(scene.width, scene.height, scene.background,
                                tuple(scene.shapes[i] for i in keep))
        descriptions = [descriptions[i] for i in keep]
        writer.image(f"dior_rsvg/JPEGImages/{stem}.jpg", synthetic.render(scene))
        writer.text(f"dior_rsvg/Annotations/{stem}.xml", _voc_xml(stem, scene, descriptions))
        stems.append(stem)
        n_objects += len(descriptions)
    cut1, cut2 = int(len(stems) * 0.6), int(len(stems) * 0.7)
    for split, part in (("train", stems[:cut1]), ("val", stems[cut1:cut2]),
                        ("test", stems[cut2:])):
        writer.text(f"dior_rsvg/{split}.txt", "".join(s + "\n" for s in part))
    return {"images": n_images, "objects": n_objects}


def write_geochat(writer: Writer, rng: random.Random, n: int) -> dict:
    rows = []
    for k in writer.progress(range(n), "geochat"):
        scene = synthetic.random_scene(rng, 256, 256, rng.randint(1, 4), (0.2, 0.32))
        name = f"geo_{k:04d}.jpg"
        writer.image(f"geochat/images/{name}", synthetic.render(scene))
        q1, a1 = synthetic.presence_question(rng, scene)
        q2, a2 = synthetic.count_question(rng, scene)
        rows.append({"id": f"geochat_{k}", "image": name, "conversations": [
            {"from": "human", "value": f"<image>\n{q1}"}, {"from": "gpt", "value": a1},
            {"from": "human", "value": q2}, {"from": "gpt", "value": a2}]})
    writer.jsonl("geochat/geochat_instruct.jsonl", rows)
    return {"lines": n}
