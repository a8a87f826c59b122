"""Batched generation (left padding) gives exactly the tokens of one-by-one generation."""

from __future__ import annotations

import random

import torch
from PIL import Image

from internvl_da.eval.generate import GenerationSettings, generate_ids
from internvl_da.model.tiny import build_tiny_model


def test_batched_equals_one_by_one(tmp_path):
    model, tok = build_tiny_model("qwen2", seed=0)
    torch.manual_seed(0)
    with torch.no_grad():  # larger random weights: varied greedy outputs, not one token
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0, 0.3)
    model.eval()
    rng = random.Random(0)
    paths = []
    for i in range(6):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (rng.choice([64, 100, 200]), rng.choice([64, 90, 150])),
                  tuple(rng.randrange(256) for _ in range(3))).save(path)
        paths.append(str(path))
    paths[2] = None  # a text-only question in the batch
    questions = [f"What is shape {i}?" + " word" * rng.randrange(6) for i in range(6)]
    settings = GenerationSettings("Hermes-2", image_size=64, tokens_per_tile=4, max_num=6,
                                  max_new_tokens=10)
    one = [generate_ids(model, tok, settings, [q], [p])[0]
           for q, p in zip(questions, paths, strict=True)]
    batched = generate_ids(model, tok, settings, questions, paths)
    assert batched == one
    assert len({tuple(ids) for ids in one}) > 2  # the outputs differ between questions
