"""Sample data, released part: a miniature of InternVL-Domain-Adaptation-Data.

Same file names, record formats and folder layout as the release (training.md §8.2,
evaluation.md §3.1, §4.1, §6.1), built from the sample's raw parts by the project's own
converters, so that `data: sample` runs the code path of `data: full` (only the root differs).
The train_meta files list the nine general entries (written by sample_general) and the domain
entries; the sample subsamples with their repeat_time values, never with code branches.
Image folders of the release: `images/drivelm/stitch`, `images/RSVQA_L/Images_LR`,
`images/RSVQA-H/Data`, `images/DIOR-RSVG/JPEGImages` (evaluation.md); `images/medical` and
`images/geochat` are [verify].
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from internvl_da.prep.drivelm import prepare_drivelm
from internvl_da.prep.released import DA_DIR, meta_file
from internvl_da.prep.remote import prepare_dior_rsvg, prepare_rsvqa
from internvl_da.prep.sample_general import GENERAL_ANNOTATION, GENERAL_ROOTS
from internvl_da.prep.stitch import stitch_all

if TYPE_CHECKING:
    from internvl_da.prep.sample import Writer

GENERAL_REPEAT = 0.5  # the sample's general share (the released metas: 0.03 and other values)
IMAGES = f"{DA_DIR}/images/"
# domain -> [(entry name, train_data file, image root under images/, repeat_time)]
DOMAIN_ENTRIES = {
    "drivelm": [("drivelm_train", "drivelm_train.jsonl", "drivelm/stitch/", 1)],
    "medical": [("medical_sft_sample500k", "medical_sft_sample500k.jsonl", "medical/", 1)],
    "remote": [("geochat_instruct", "geochat_instruct.jsonl", "geochat/", 1),
               ("rsvqa_hr_train_instruct_100k", "rsvqa_hr_train_instruct_100k.jsonl",
                "RSVQA-H/Data/", 1),
               ("fit_rs_vqa_100k", "fit_rs_vqa_100k.jsonl", "RSVQA_L/Images_LR/", 1),
               ("dior_rsvg_instruct_26k", "dior_rsvg_instruct_26k.jsonl", "", 1)],
}


def _copy_tree(root: Path, src: str, dst: str) -> int:
    """Copy every file of root/src to root/dst in sorted order (bytes unchanged)."""
    files = sorted(p for p in (root / src).rglob("*") if p.is_file())
    for path in files:
        target = root / dst / path.relative_to(root / src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return len(files)


def meta(domain: str) -> dict[str, dict]:
    """The sample's train_meta of `domain`: the nine general entries, then the domain's."""
    out = {name: {"root": root, "annotation": GENERAL_ANNOTATION.format(name=name),
                  "data_augment": False, "repeat_time": GENERAL_REPEAT}
           for name, root in GENERAL_ROOTS.items()}
    for name, annotation, root, repeat in DOMAIN_ENTRIES[domain]:
        out[name] = {"root": IMAGES + root, "annotation": f"{DA_DIR}/train_data/{annotation}",
                     "data_augment": False, "repeat_time": repeat}
    return out


def _driving(root: Path, da: Path) -> None:
    stitch = da / "images/drivelm/stitch"
    for split in ("train", "val"):
        stitch_all(root, root / f"drivelm/v1_1_{split}_nus.json", stitch)
    prepare_drivelm(root / "drivelm/v1_1_train_nus.json", da / "train_data/drivelm_train.jsonl")
    prepare_drivelm(root / "drivelm/v1_1_val_nus.json", da / "val/drivelm_val.jsonl", "val")


def _remote(root: Path, da: Path) -> None:
    lr, hr = root / "rsvqa/LR", root / "rsvqa/HR"
    prepare_rsvqa(hr, "hr", "train", da / "train_data/rsvqa_hr_train_instruct_100k.jsonl")
    prepare_rsvqa(lr, "lr", "train", da / "train_data/fit_rs_vqa_100k.jsonl")  # a stand-in
    prepare_rsvqa(lr, "lr", "test", da / "val/rsvqa_l_test_instruct.json")
    prepare_rsvqa(hr, "hr", "test", da / "val/rsvqa_h_test_1_instruct.json")
    prepare_rsvqa(hr, "hr", "test_phili", da / "val/rsvqa_h_test_2_instruct.json")
    for split, name in (("train", "train_data/dior_rsvg_instruct_26k.jsonl"),
                        ("test", "val/dior_rsvg_test.json")):
        prepare_dior_rsvg(root / "dior_rsvg", split, da / name, image_prefix="DIOR-RSVG/")


def write_released(writer: Writer) -> dict:
    """The miniature under OUT/InternVL-Domain-Adaptation-Data (after the raw parts)."""
    root, da = writer.root, writer.root / DA_DIR
    _driving(root, da)
    _remote(root, da)
    shutil.copyfile(root / "geochat/geochat_instruct.jsonl",
                    da / "train_data/geochat_instruct.jsonl")
    shutil.copyfile(root / "medical/medical_sft.jsonl",
                    da / "train_data/medical_sft_sample500k.jsonl")
    images = sum(_copy_tree(root, src, f"{DA_DIR}/images/{dst}") for src, dst in (
        ("rsvqa/LR/Images_LR", "RSVQA_L/Images_LR"), ("rsvqa/HR/Data", "RSVQA-H/Data"),
        ("dior_rsvg/JPEGImages", "DIOR-RSVG/JPEGImages"), ("geochat/images", "geochat"),
        ("medical/images", "medical")))
    for domain in DOMAIN_ENTRIES:
        writer.json(f"{DA_DIR}/{meta_file(domain)}", meta(domain))
    return {"metas": len(DOMAIN_ENTRIES), "copied_images": images}
