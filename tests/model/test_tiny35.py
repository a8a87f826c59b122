"""The tiny InternVL3.5 (Qwen3 LLM): the traits of the real one that code must not assume
away (spec internvl35.md §1 items 1, 5, 6), saved and loaded natively, generation stops at
`<|im_end|>` (§9.1)."""

from __future__ import annotations

import hashlib

import torch
from transformers import AutoTokenizer, InternVLForConditionalGeneration

from internvl_da.data.templates import encode_generation_prompt
from internvl_da.model.tiny import build_tiny_model


def test_qwen3_traits_head_dim_qk_norm_untied_head():
    model, tok = build_tiny_model("qwen3", seed=0)
    text = model.config.text_config
    assert type(model.model.language_model).__name__ == "Qwen3Model"
    assert text.head_dim * text.num_attention_heads != text.hidden_size  # 32 x 4 vs 64
    attn = model.model.language_model.layers[0].self_attn
    assert tuple(attn.q_proj.weight.shape) == (text.head_dim * text.num_attention_heads,
                                               text.hidden_size)
    assert tuple(attn.q_norm.weight.shape) == (text.head_dim,)  # per-head RMSNorm on q and k
    assert not model.config.tie_word_embeddings and not text.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() != \
        model.model.language_model.embed_tokens.weight.data_ptr()
    assert not torch.equal(model.lm_head.weight, model.model.language_model.embed_tokens.weight)
    assert model.config.image_token_id == tok.context_image_token_id
    assert tok.bos_token is None and tok.eos_token == "<|im_end|>"  # Qwen: no BOS
    assert [tok.convert_tokens_to_ids(t) for t in ("<think>", "</think>")] == \
        [len(tok) - 2, len(tok) - 1]


def test_save_load_keeps_the_untied_head_and_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        model, tok = build_tiny_model("qwen3", seed=4)
        model.save_pretrained(tmp_path / name)
        tok.save_pretrained(tmp_path / name)
    digests = {hashlib.sha256((tmp_path / n / "model.safetensors").read_bytes()).hexdigest()
               for n in ("a", "b")}
    assert len(digests) == 1
    loaded = InternVLForConditionalGeneration.from_pretrained(tmp_path / "a")
    assert torch.equal(loaded.lm_head.weight, model.lm_head.weight)
    assert not torch.equal(loaded.lm_head.weight,
                           loaded.model.language_model.embed_tokens.weight)
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "a", trust_remote_code=False)
    assert reloaded.encode("<think>x</think>", add_special_tokens=False) == \
        tok.encode("<think>x</think>", add_special_tokens=False)


def test_generation_stops_at_im_end():
    model, tok = build_tiny_model("qwen3", seed=0)
    stop = tok.convert_tokens_to_ids("<|im_end|>")
    with torch.no_grad():  # a large constant row: <|im_end|> wins whenever sum(h) > 0 (seed 0)
        model.lm_head.weight[stop] = model.lm_head.weight.abs().max() * 50
    ids = torch.tensor([encode_generation_prompt(tok, "internvl2_5", "Say yes.", [])])
    free = model.generate(input_ids=ids, max_new_tokens=6, do_sample=False,
                          eos_token_id=stop, pad_token_id=tok.pad_token_id, min_new_tokens=1)
    assert free[0, ids.shape[1]:].tolist()[-1] == stop
    assert free.shape[1] <= ids.shape[1] + 6
