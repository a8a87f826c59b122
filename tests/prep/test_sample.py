"""The sample data: deterministic bytes, documented layout, answers true to the scenes."""

from __future__ import annotations

import base64
import csv
import io
import json
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from internvl_da.data.validate import check_path
from internvl_da.prep import sample_driving, sample_remote, synthetic
from internvl_da.prep.meta import INTERNVL_1_2_GENERAL
from internvl_da.prep.released import TRAIN_DATA, VAL_FILES
from internvl_da.prep.released import meta_file as released_meta_file
from internvl_da.prep.sample import generate_sample

DOCUMENTED = [
    "drivelm/v1_1_train_nus.json", "drivelm/v1_1_val_nus.json", "drivelm/v1_1_val_nus_q_only.json",
    *[f"rsvqa/LR/LR_split_{s}_{k}.json" for s in ("train", "test")
      for k in ("questions", "answers", "images")],
    *[f"rsvqa/HR/USGS_split_{s}_{k}.json" for s in ("train", "test", "test_phili")
      for k in ("questions", "answers", "images")],
    "dior_rsvg/train.txt", "dior_rsvg/val.txt", "dior_rsvg/test.txt",
    "mme_realworld/MME_RealWorld.json", "gmai/GMAI-MMBench_VAL.tsv", "medical/medical_sft.jsonl",
    "geochat/geochat_instruct.jsonl", "MANIFEST.json",
    *[f"playground/opensource/{name}.jsonl" for name in INTERNVL_1_2_GENERAL],
    *[f"InternVL-Domain-Adaptation-Data/train_meta/internvl_1_2_finetune_{d}.json"
      for d in ("drivelm", "medical", "remote")],
    *[f"InternVL-Domain-Adaptation-Data/{rel}" for rel in (*VAL_FILES, *[
        f for files in TRAIN_DATA.values() for f in files])],
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("s") / "a"
    print(generate_sample(out, seed=0, scale=1, show_progress=False))  # time shown with -s
    return out


def tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file()}


def test_same_seed_identical_bytes_other_seed_differs(sample, tmp_path):
    generate_sample(tmp_path / "b", seed=0, scale=1, show_progress=False)
    assert tree(sample) == tree(tmp_path / "b")
    generate_sample(tmp_path / "c", seed=1, scale=1, show_progress=False)
    assert tree(sample) != tree(tmp_path / "c")


def test_refuses_non_empty_without_force(sample, tmp_path):
    with pytest.raises(FileExistsError, match="--force"):
        generate_sample(sample, scale=1, show_progress=False)
    target = tmp_path / "t"
    target.mkdir()
    (target / "old.txt").write_text("x")
    generate_sample(target, scale=1, force=True, show_progress=False)
    assert not (target / "old.txt").exists() and (target / "MANIFEST.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".t.")]  # no staging left


def test_documented_layout_and_manifest(sample):
    for rel in DOCUMENTED:
        assert (sample / rel).is_file(), rel
    manifest = json.loads((sample / "MANIFEST.json").read_text())
    assert manifest["seed"] == 0
    assert len(manifest["files"]) == sum(1 for p in sample.rglob("*") if p.is_file()) - 1
    assert not any(str(sample) in (sample / rel).read_text() for rel in DOCUMENTED
                   if rel.endswith((".json", ".jsonl")))


def test_drivelm_structure_and_tags_inside_boxes(sample):
    raw = json.loads((sample / "drivelm/v1_1_train_nus.json").read_text())
    for scene in raw.values():
        for frame in scene["key_frames"].values():
            assert set(frame["QA"]) == {"perception", "prediction", "planning", "behavior"}
            assert len(frame["image_paths"]) == 6
            for cam, rel in frame["image_paths"].items():
                assert rel.startswith(f"../nuscenes/samples/{cam}/")
                with Image.open(sample / rel.removeprefix("../")) as img:
                    assert img.size == (1600, 900)
            for tag, info in frame["key_object_infos"].items():
                _, cam, x, y = tag.strip("<>").split(",")
                x1, y1, x2, y2 = info["2d_bbox"]
                assert 0 <= float(x) <= 1600 and 0 <= float(y) <= 900
                assert x1 <= float(x) <= x2 and y1 <= float(y) <= y2
                assert x.count(".") == 1 and len(x.split(".")[1]) == 1
    q_only = json.loads((sample / "drivelm/v1_1_val_nus_q_only.json").read_text())
    for scene in q_only.values():
        for frame in scene["key_frames"].values():
            assert all("A" not in qa for items in frame["QA"].values() for qa in items)


def test_rsvqa_ids_consistent_and_balanced(sample):
    base = sample / "rsvqa/LR/LR_split_train"
    qs = json.loads((base.parent / (base.name + "_questions.json")).read_text())["questions"]
    ans = {a["id"]: a for a in
           json.loads((base.parent / (base.name + "_answers.json")).read_text())["answers"]}
    imgs = {i["id"] for i in
            json.loads((base.parent / (base.name + "_images.json")).read_text())["images"]}
    assert {q["type"] for q in qs} == {"presence", "comp", "rural_urban", "count"}
    for q in qs:
        assert q["img_id"] in imgs and all(a in ans for a in q["answers_ids"])
        assert (sample / f"rsvqa/LR/Images_LR/{q['img_id']}.tif").is_file()
    presence = [ans[q["answers_ids"][0]]["answer"] for q in qs if q["type"] == "presence"]
    assert 0.35 < presence.count("yes") / len(presence) < 0.65
    hr = json.loads((sample / "rsvqa/HR/USGS_split_test_questions.json").read_text())
    assert "area" in {q["type"] for q in hr["questions"]}


def test_dior_and_mme_and_gmai(sample):
    test_stems = (sample / "dior_rsvg/test.txt").read_text().split()
    train_stems = (sample / "dior_rsvg/train.txt").read_text().split()
    assert test_stems and not set(test_stems) & set(train_stems)
    with Image.open(sample / f"dior_rsvg/JPEGImages/{test_stems[0]}.jpg") as img:
        assert img.size == (800, 800)
    records = json.loads((sample / "mme_realworld/MME_RealWorld.json").read_text())
    for r in records:
        assert r["Subtask"] == "Autonomous_Driving" and len(r["Answer choices"]) == 5
        assert r["Ground truth"] in "ABCD"
        assert (sample / "mme_realworld/data" / r["Image"]).is_file()
    rows = list(csv.DictReader(io.StringIO((sample / "gmai/GMAI-MMBench_VAL.tsv").read_text()),
                               delimiter="\t"))
    assert rows and rows[0]["answer"] in "ABCD"
    img = Image.open(io.BytesIO(base64.b64decode(rows[0]["image"])))
    assert img.size == (128, 128)


def test_released_miniature_metas_are_valid_from_the_sample_root(sample, monkeypatch):
    """The sample mirrors InternVL-Domain-Adaptation-Data: each meta lists the nine general
    entries then the domain's, with paths relative to the data root, and every line checks."""
    monkeypatch.chdir(sample)  # the metas' paths are relative to data/<data>
    for domain, files in TRAIN_DATA.items():
        meta_file = f"InternVL-Domain-Adaptation-Data/{released_meta_file(domain)}"
        meta = json.loads(Path(meta_file).read_text())
        assert list(meta)[:9] == list(INTERNVL_1_2_GENERAL)
        assert [e["annotation"].removeprefix("InternVL-Domain-Adaptation-Data/")
                for e in list(meta.values())[9:]] == list(files)
        reports = check_path(meta_file)
        assert [p for r in reports for p in r.problems] == [], domain


def test_general_has_all_kinds_with_right_tags(sample):
    kinds = set()
    lines = [line for name in INTERNVL_1_2_GENERAL
             for line in (sample / f"playground/opensource/{name}.jsonl").read_text().splitlines()]
    for line in lines:
        row = json.loads(line)
        image = row.get("image")
        tags = sum(t["value"].count("<image>") for t in row["conversations"])
        if isinstance(image, list):
            kinds.add("multi")
            assert tags == len(image)
        elif image:
            kinds.add("single")
            assert tags == 1
        else:
            kinds.add("text")
            assert tags == 0
    assert kinds == {"single", "multi", "text"}


def near(rgb, colour: str, tol: int = 40) -> bool:
    """JPEG is lossy: a flat colour comes back within a few levels."""
    return max(abs(int(a) - b) for a, b in zip(rgb, synthetic.PALETTE[colour], strict=True)) < tol


def pixels(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def frames(sample, split):
    raw = json.loads((sample / f"drivelm/v1_1_{split}_nus.json").read_text())
    return [f for scene in raw.values() for f in scene["key_frames"].values()]


def test_drivelm_answers_match_the_images(sample):
    yes_no = []
    for frame in frames(sample, "train") + frames(sample, "val"):
        images = {cam: pixels(sample / rel.removeprefix("../"))
                  for cam, rel in frame["image_paths"].items()}
        for qa in (qa for items in frame["QA"].values() for qa in items):
            tags = re.findall(r"<c\d+,[A-Z_]+,[\d.]+,[\d.]+>", qa["Q"] + qa["A"])
            assert set(tags) <= set(frame["key_object_infos"]), qa
            if tags and qa["Q"].startswith(("What is the colour", "Is")):
                _, cam, x, y = tags[0].strip("<>").split(",")
                rgb = images[cam][int(float(y)), int(float(x))]
                seen = [c for c in synthetic.PALETTE if near(rgb, c)]
                assert len(seen) == 1, (tags, rgb)
            if qa["Q"].startswith("What is the colour of"):
                assert qa["A"] == seen[0], (tags, qa)
            if qa["A"] in ("Yes.", "No."):
                yes_no.append(qa["A"])
            if qa["Q"].endswith("moving?"):  # visible: the colour decides
                status = frame["key_object_infos"][tags[0]]["Status"]
                moving = seen[0] in sample_driving.MOVING_COLOURS
                assert (qa["A"] == "Yes.") == (status == "Moving") == moving
    assert 0.35 < yes_no.count("Yes.") / len(yes_no) < 0.65


def test_rsvqa_water_presence_matches_pixels(sample):
    qs = json.loads((sample / "rsvqa/LR/LR_split_test_questions.json").read_text())["questions"]
    ans = {a["id"]: a["answer"] for a in json.loads(
        (sample / "rsvqa/LR/LR_split_test_answers.json").read_text())["answers"]}
    checked = 0
    for q in qs:
        if q["question"] == sample_remote.WATER_QUESTION:
            tif = pixels(sample / f"rsvqa/LR/Images_LR/{q['img_id']}.tif")
            assert tif.shape == (256, 256, 3)  # lossless: exact palette pixels
            drawn = bool((tif == synthetic.PALETTE["blue"]).all(-1).any())
            assert ans[q["answers_ids"][0]] == ("yes" if drawn else "no")
            checked += 1
    assert checked >= 5
    with Image.open(next((sample / "rsvqa/HR/Data").glob("*.tif"))) as img:
        assert img.size == (512, 512)


def test_water_presence_question_balanced():
    rng, answers = random.Random(2), []
    for _ in range(300):
        scene = synthetic.random_scene(rng, 256, 256, rng.randint(1, 4))
        question, answer = sample_remote.water_presence_question(scene)
        assert question == "Is there a water area?"
        assert answer == ("yes" if any(s.colour == "blue" for s in scene.shapes) else "no")
        answers.append(answer)
    assert 0.4 < answers.count("yes") / len(answers) < 0.6


def test_dior_descriptions_match_boxes_and_pixels(sample):
    for xml in sorted((sample / "dior_rsvg/Annotations").glob("*.xml"))[:10]:
        root = ET.parse(xml).getroot()
        image = pixels(sample / "dior_rsvg/JPEGImages" / f"{xml.stem}.jpg")
        descriptions = [o.findtext("description") for o in root.iter("object")]
        assert len(set(descriptions)) == len(descriptions)  # one object per description
        for obj, text in zip(root.iter("object"), descriptions, strict=True):
            x1, y1, x2, y2 = (int(obj.findtext(f"bndbox/{k}")) for k in
                              ("xmin", "ymin", "xmax", "ymax"))
            _, colour, kind, *place = text.split()
            assert kind == obj.findtext("name")
            assert near(image[(y1 + y2) // 2, (x1 + x2) // 2], colour)
            centre = (x1 + x2) / 2 / 800
            assert place[-1] == ("left" if centre < 1 / 3 else
                                 "right" if centre >= 2 / 3 else "center")


def test_hold_out_splits_share_no_images(sample):
    def image_ids(rel):
        return {i["id"] for i in json.loads((sample / rel).read_text())["images"]}

    lr = [image_ids(f"rsvqa/LR/LR_split_{s}_images.json") for s in ("train", "test")]
    hr = [image_ids(f"rsvqa/HR/USGS_split_{s}_images.json")
          for s in ("train", "test", "test_phili")]
    assert not lr[0] & lr[1] and not hr[0] & (hr[1] | hr[2]) and not hr[1] & hr[2]
    train, val = ({rel for f in frames(sample, s) for rel in f["image_paths"].values()}
                  for s in ("train", "val"))
    assert len(train) == 6 * len(frames(sample, "train")) and not train & val
