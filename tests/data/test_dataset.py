"""The supervised dataset: consistent shapes, loud errors, no substitution, seeded augmentation."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from internvl_da.data.dataset import DatasetError, SampleSettings, SupervisedDataset, build_datasets
from internvl_da.data.formats import MetaEntry
from internvl_da.data.stream import PackedDataset
from internvl_da.model.tiny import build_tiny_tokenizer

SETTINGS = SampleSettings(template="Hermes-2", image_size=32, tokens_per_tile=4, max_num=6)


def turn(q, a):
    return [{"from": "human", "value": q}, {"from": "gpt", "value": a}]


ROWS = [
    {"id": "single", "image": "a.jpg", "conversations": turn("Colour?", "red")},
    {"id": "multi", "image": ["a.jpg", "b.png"],
     "conversations": turn("<image>\n<image>\nCompare.", "same")},
    {"id": "text", "conversations": turn("Hi", "Hello")},
    {"id": "missing", "image": "nope.jpg", "conversations": turn("q", "a")},
    {"id": "corrupt", "image": "bad.jpg", "conversations": turn("q", "a")},
    {"id": "after", "image": "b.png", "conversations": turn("q", "a")},
]


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer("qwen2")


@pytest.fixture()
def entry(tmp_path):
    texture = Image.linear_gradient("L").resize((96, 64)).convert("RGB")
    texture.save(tmp_path / "a.jpg", quality=95)
    Image.new("RGB", (64, 32), (10, 10, 200)).save(tmp_path / "b.png")
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    ann = tmp_path / "ann.jsonl"
    ann.write_text("".join(json.dumps(r) + "\n" for r in ROWS) + "{oops\n")
    return MetaEntry("toy", str(tmp_path), str(ann), False, 1)


def context_count(tok, ids):
    return int((ids == tok.context_image_token_id).sum())


def test_single_multi_text_shapes(tok, entry):
    ds = SupervisedDataset(entry, tok, SETTINGS)
    single, multi, text = ds[0], ds[1], ds[2]
    assert single["pixel_values"].shape[1:] == (3, 32, 32)
    assert context_count(tok, single["input_ids"]) == 4 * single["num_tiles"]
    # multi-image: each image gets max(1, 6 // 2) = 3 tiles at most: (2x1 + thumb) and (2x1 + thumb)
    assert multi["num_tiles"] == 6 and context_count(tok, multi["input_ids"]) == 24
    assert (multi["input_ids"] == tok.convert_tokens_to_ids("</img>")).sum() == 2
    assert text["num_tiles"] == 1 and text["image_flags"].tolist() == [0]
    assert context_count(tok, text["input_ids"]) == 0
    assert single["image_flags"].tolist() == [1] * single["num_tiles"]
    assert single["position_ids"].tolist() == list(range(len(single["input_ids"])))
    assert len(single["labels"]) == len(single["input_ids"])


@pytest.mark.parametrize("index,line,reason", [
    (3, 4, "image file not found"), (4, 5, "not a readable image"), (6, 7, "invalid JSON")])
def test_errors_name_dataset_file_and_line_and_never_substitute(tok, entry, index, line, reason):
    ds = SupervisedDataset(entry, tok, SETTINGS)
    with pytest.raises(DatasetError, match=reason) as exc:
        ds[index]
    assert str(exc.value).startswith(f"{entry.annotation}:{line}: [dataset toy]")
    assert ds[5]["id"] == "after"  # the next index is still its own sample


def test_missing_annotation(tok, entry):
    bad = MetaEntry("gone", entry.root, entry.root + "/none.jsonl", False, 1)
    with pytest.raises(DatasetError, match=r"\[dataset gone\] annotation file not found"):
        SupervisedDataset(bad, tok, SETTINGS)


def test_repeat_time_and_shuffle(tok, entry):
    half = MetaEntry("toy", entry.root, entry.annotation, False, 0.5)
    assert len(SupervisedDataset(half, tok, SETTINGS)) == 3
    seeded = SampleSettings(template="Hermes-2", subset_seed=5)
    subset = SupervisedDataset(half, tok, seeded).lines.tolist()
    assert subset == SupervisedDataset(half, tok, seeded).lines.tolist()
    assert len(subset) == 3 and subset != [0, 1, 2]
    twice = MetaEntry("toy", entry.root, entry.annotation, False, 2)
    assert len(SupervisedDataset(twice, tok, SETTINGS)) == 14
    a = SupervisedDataset(twice, tok, SETTINGS, dataset_index=3, shuffle=True).lines.tolist()
    b = SupervisedDataset(twice, tok, SETTINGS, dataset_index=3, shuffle=True).lines.tolist()
    assert a == b and a != sorted(a) and sorted(a) == sorted(list(range(7)) * 2)


def test_augmentation_only_when_asked_and_seeded(tok, entry):
    plain = SupervisedDataset(entry, tok, SETTINGS)[0]["pixel_values"]
    aug_entry = MetaEntry("toy", entry.root, entry.annotation, True, 1)
    a = SupervisedDataset(aug_entry, tok, SETTINGS)[0]["pixel_values"]
    b = SupervisedDataset(aug_entry, tok, SETTINGS)[0]["pixel_values"]
    assert torch.equal(a, b) and not torch.equal(a, plain)
    ds = SupervisedDataset(aug_entry, tok, SETTINGS)
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["pixel_values"], a)


def test_max_dynamic_patch_overrides(tok, entry):
    capped = MetaEntry("toy", entry.root, entry.annotation, False, 1, max_dynamic_patch=1)
    assert SupervisedDataset(capped, tok, SETTINGS)[0]["num_tiles"] == 1


def test_packed_stream_over_real_samples(tok, entry, tmp_path):
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:3] + ROWS[5:]))
    meta = {"a": MetaEntry("a", entry.root, str(clean), False, 2),
            "b": MetaEntry("b", entry.root, str(clean), False, 1)}
    datasets = build_datasets(meta, tok, SETTINGS, shuffle=True)
    rows = list(PackedDataset(datasets, max_tokens=600, max_tiles=12))
    assert sum(len(r["ids"]) for r in rows) == 12
    for row in rows:
        assert len(row["input_ids"]) <= 600 and row["pixel_values"].shape[0] <= 12
        real_tiles = int(row["image_flags"].sum())
        assert context_count(tok, row["input_ids"]) == 4 * real_tiles
