"""The tiny tokenizer: deterministic, carries the InternVL tokens, survives save/load, and
tokenizes like the real families (byte-level Qwen2, SentencePiece-style InternLM2/Phi-3)."""

from __future__ import annotations

import time

import pytest
from transformers import AutoTokenizer

from internvl_da.data.tokens import INTERNVL_SPECIAL_TOKENS
from internvl_da.model.tiny import SPECIAL_TOKENS, TINY_FAMILIES, build_tiny_tokenizer

TEXT = ("<|im_start|>user\n<img><IMG_CONTEXT></img>\nIs there a red circle? 图中有什么？ é"
        "<|im_end|>")


@pytest.mark.parametrize("family", list(TINY_FAMILIES))
def test_deterministic_and_round_trip(family, tmp_path):
    start = time.perf_counter()
    a = build_tiny_tokenizer(family)
    assert time.perf_counter() - start < 1.0
    b = build_tiny_tokenizer(family)
    a.save_pretrained(tmp_path / "a")
    b.save_pretrained(tmp_path / "b")
    saved = [(tmp_path / d / "tokenizer.json").read_bytes() for d in ("a", "b")]
    assert saved[0] == saved[1]
    loaded = AutoTokenizer.from_pretrained(tmp_path / "a", trust_remote_code=False)
    assert loaded(TEXT).input_ids == a(TEXT).input_ids
    assert loaded.encode("A1", add_special_tokens=False) == a.encode("A1", add_special_tokens=False)
    assert loaded.context_image_token_id == a.context_image_token_id
    assert loaded.eos_token == a.eos_token and loaded.pad_token == "<|endoftext|>"


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
    assert tok.start_image_token_id == SPECIAL_TOKENS.index("<img>")
    assert tok.end_image_token_id == SPECIAL_TOKENS.index("</img>")
    assert tok.video_token_id == SPECIAL_TOKENS.index("<video>")
    assert tok.eos_token == ("<|end|>" if family == "phi3" else "<|im_end|>")
    assert 900 <= len(tok) <= 1100


@pytest.mark.parametrize("family", list(TINY_FAMILIES))
def test_decode_is_lossless(family):
    tok = build_tiny_tokenizer(family)
    ids = tok.encode(TEXT, add_special_tokens=False)
    assert tok.decode(ids) == TEXT
    assert tok.unk_token_id is None or tok.unk_token_id not in ids


def test_bos_conventions():
    assert build_tiny_tokenizer("qwen2")("hi").input_ids[0] != SPECIAL_TOKENS.index("<s>")
    for family in ("llama", "phi3"):
        assert build_tiny_tokenizer(family)("hi").input_ids[0] == SPECIAL_TOKENS.index("<s>")
    assert "▁" in build_tiny_tokenizer("phi3").get_vocab()


def test_qwen2_style_splits():
    tok = build_tiny_tokenizer("qwen2")
    assert tok.tokenize("1234") == ["1", "2", "3", "4"]  # Qwen2 splits every digit
    assert tok.tokenize("a\n\nb") == ["a", "ĊĊ", "b"]  # the merge behind the §22 edge


@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_sentencepiece_style_prefix_and_byte_fallback(family):
    """As transformers 5's LlamaTokenizer: `▁` only at the start of the input, byte fallback."""
    tok = build_tiny_tokenizer(family)
    alone = tok.convert_ids_to_tokens(tok.encode("yes", add_special_tokens=False))
    after = tok.convert_ids_to_tokens(tok.encode("<|end|>yes", add_special_tokens=False))
    assert alone[0].startswith("▁") and not after[1].startswith("▁")
    assert tok.convert_ids_to_tokens(tok.encode("<|end|>\n", add_special_tokens=False)) == [
        "<|end|>", "<0x0A>"]
    assert tok.encode("<|system|>\nx", add_special_tokens=True)[:2] == [
        SPECIAL_TOKENS.index("<s>"), SPECIAL_TOKENS.index("<|system|>")]  # no `▁` (§22)


def test_corpus_words_are_compact():
    for family in TINY_FAMILIES:
        tok = build_tiny_tokenizer(family)
        for word in ["yes", "no", "red", " circle", " pedestrian", " lesion", " urban"]:  # answers
            # start right after the header newline, so they carry no space
            assert len(tok.encode("<|end|>" + word, add_special_tokens=False)) == 2, (family, word)


def test_unknown_family():
    with pytest.raises(ValueError, match="unknown tiny family"):
        build_tiny_tokenizer("mistral")
