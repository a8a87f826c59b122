"""Batched generation (left padding) gives exactly the tokens of one-by-one generation."""

from __future__ import annotations

import random

import torch
from PIL import Image

from internvl_da.eval.generate import GenerationSettings, decode_response, generate_ids
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


class _TextTokenizer:
    """decode() returns fixed texts per skip_special_tokens, recording the flag it got."""

    def __init__(self, kept: str, skipped: str):
        self.kept, self.skipped, self.calls = kept, skipped, []

    def decode(self, ids, skip_special_tokens=False):
        self.calls.append(skip_special_tokens)
        return self.skipped if skip_special_tokens else self.kept


def test_decode_as_reference_chat_regression_special_tokens_kept():
    """Regression (issue 10 item 4): responses were decoded with special tokens kept. The
    reference `model.chat` decodes with skip_special_tokens=True, splits at
    `template.sep.strip()` and strips; real InternVL2 tokenizers mark <ref>/<box> special."""
    _, tok = build_tiny_model("qwen2", seed=0)
    ids = tok.encode("<ref>the car</ref><box>[[1, 2, 3, 4]]</box>  ", add_special_tokens=False)
    assert "<box>" in tok.decode(ids)  # what the old decoding kept
    assert decode_response(tok, ids, "Hermes-2") == "the car[[1, 2, 3, 4]]"


def test_decode_splits_at_the_template_separator_text():
    """`response.split(template.sep.strip())[0]`: a separator that survives decoding as text
    ends the answer (phi3-chat: `<|end|>`; Hermes-2: `<|im_end|>`)."""
    tok = _TextTokenizer(kept="x", skipped=" Yes <|end|> ignored")
    assert decode_response(tok, [1, 2], "phi3-chat") == "Yes"
    assert tok.calls == [True]
    tok = _TextTokenizer(kept="x", skipped="\n No.<|im_end|>more")
    assert decode_response(tok, [1], "Hermes-2") == "No."
    # punctuation is kept, only surrounding whitespace goes (evaluation.md §2.2 step 5)
    assert decode_response(_TextTokenizer("x", " (B). "), [1], "internlm2-chat") == "(B)."
