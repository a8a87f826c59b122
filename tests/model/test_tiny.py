"""The tiny tokenizer: deterministic, carries the InternVL tokens, survives save/load."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from internvl_da.data.tokens import INTERNVL_SPECIAL_TOKENS
from internvl_da.model.tiny import SPECIAL_TOKENS, TINY_FAMILIES, build_tiny_tokenizer


@pytest.mark.parametrize("family", list(TINY_FAMILIES))
def test_deterministic_and_round_trip(family, tmp_path):
    a, b = build_tiny_tokenizer(family), build_tiny_tokenizer(family)
    a.save_pretrained(tmp_path / "a")
    b.save_pretrained(tmp_path / "b")
    saved = [(tmp_path / d / "tokenizer.json").read_bytes() for d in ("a", "b")]
    assert saved[0] == saved[1]
    loaded = AutoTokenizer.from_pretrained(tmp_path / "a", trust_remote_code=False)
    text = "<|im_start|>user\n<img><IMG_CONTEXT></img>\nIs there a red circle?<|im_end|>"
    assert loaded(text).input_ids == a(text).input_ids
    assert loaded.context_image_token_id == a.context_image_token_id


@pytest.mark.parametrize("family", list(TINY_FAMILIES))
def test_special_tokens_are_single_fixed_ids(family):
    tok = build_tiny_tokenizer(family)
    for i, token in enumerate(SPECIAL_TOKENS):
        assert tok.convert_tokens_to_ids(token) == i
        assert tok.encode(token, add_special_tokens=False) == [i]
    for token in INTERNVL_SPECIAL_TOKENS:
        assert tok.convert_tokens_to_ids(token) < len(SPECIAL_TOKENS)
    assert tok.start_image_token == "<img>" and tok.end_image_token == "</img>"
    assert tok.context_image_token == "<IMG_CONTEXT>" and tok.video_token == "<video>"
    assert tok.context_image_token_id == SPECIAL_TOKENS.index("<IMG_CONTEXT>")


def test_bos_conventions():
    assert build_tiny_tokenizer("qwen2")("hi").input_ids[0] != SPECIAL_TOKENS.index("<s>")
    for family in ("llama", "phi3"):
        assert build_tiny_tokenizer(family)("hi").input_ids[0] == SPECIAL_TOKENS.index("<s>")
    assert "▁" in build_tiny_tokenizer("phi3").get_vocab()


def test_corpus_words_are_compact():
    tok = build_tiny_tokenizer("qwen2")
    for word in ["yes", "no", "red", "circle", "CAM_FRONT"]:
        assert len(tok.encode(word, add_special_tokens=False)) <= 3, word


def test_unknown_family():
    with pytest.raises(ValueError, match="unknown tiny family"):
        build_tiny_tokenizer("mistral")
