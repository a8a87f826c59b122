"""`data check` on InternVL3.5 data: records are parsed by the template's rules (spec
internvl35.md §5) with or without a tokenizer, and the lines it passes are exactly the lines
the training dataset builds (dataset.SupervisedDataset with the same template)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from internvl_da.data import validate
from internvl_da.data.dataset import DatasetError, SampleSettings, SupervisedDataset
from internvl_da.data.formats import MetaEntry
from internvl_da.model.tiny import build_tiny_tokenizer

LINES = [
    {"id": "system", "image": "a.jpg", "conversations": [
        {"from": "system", "value": "Be brief."}, {"from": "human", "value": "<image>\nq"},
        {"from": "gpt", "value": "a"}]},
    {"id": "leading-gpt-text", "conversations": [
        {"from": "gpt", "value": "hi"}, {"from": "human", "value": "q"},
        {"from": "gpt", "value": "a"}]},
    {"id": "leading-gpt-image", "image": "a.jpg", "conversations": [
        {"from": "gpt", "value": "hi"}, {"from": "human", "value": "<image>\nq"},
        {"from": "gpt", "value": "a"}]},
    {"id": "no-alternation", "image": "a.jpg", "conversations": [
        {"from": "human", "value": "q1"}, {"from": "human", "value": "q2"},
        {"from": "gpt", "value": "a"}]},
]


@pytest.fixture()
def data(tmp_path):
    Image.new("RGB", (96, 64), (10, 120, 30)).save(tmp_path / "a.jpg")
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in LINES))
    return path


def test_template_rules_apply_without_a_tokenizer(data):
    problems = validate.check_jsonl(data, data.parent, template="internvl2_5")
    assert [(p.line, p.reason.split(":")[0]) for p in problems] == [
        (3, "turn 1")]  # the image sample starting with a gpt turn
    assert "must start with a human turn" in problems[0].reason


def test_without_the_template_the_internvl2_rules_apply(data):
    (report,) = validate.check_path(data, data.parent)
    assert {p.line: p.reason for p in report.problems} == {
        1: "turn 1: unsupported role 'system' (human/gpt only)",
        4: "conversation must be human/gpt pairs ending with a gpt answer"}
    assert report.leading_gpt == 2  # dropped by the InternVL2 preprocess, counted


def test_data_check_and_the_training_dataset_agree(data):
    tok = build_tiny_tokenizer("qwen3")
    (report,) = validate.check_path(data, data.parent, template="internvl2_5", tokenizer=tok,
                                    max_seq_length=4096, tokens_per_tile=4, image_size=64)
    rejected = {p.line for p in report.problems}
    assert rejected == {3} and report.leading_gpt == 0
    entry = MetaEntry("d", str(data.parent), str(data), False, 1)
    dataset = SupervisedDataset(entry, tok, SampleSettings("internvl2_5", image_size=64,
                                                           tokens_per_tile=4))
    for i in range(len(dataset)):
        if i + 1 in rejected:
            with pytest.raises(DatasetError, match=f"d.jsonl:{i + 1}: .*human turn"):
                dataset[i]
        else:
            assert dataset[i]["labels"].ne(-100).any()
