"""`convert` for original-layout InternVL3.5 (Qwen3) checkpoints, both directions.

Spec internvl35.md §3.5: only the vision/projector renames and the ViT qkv split of InternVL2
apply; the Qwen3 keys pass through, the head stays untied (`tie_word_embeddings` false in
llm_config), and `head_dim` is kept (not hidden/heads). The original folder is written from the
tiny Qwen3 model the way InternVL's `internvl_hf2custom.py` lays it out (`language_model.*`,
`vision_model.*`, `mlp1.*`, config.json with `llm_config.architectures = [Qwen3ForCausalLM]`).
"""

from __future__ import annotations

import json

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import AutoTokenizer, InternVLForConditionalGeneration

from internvl_da.model.convert import convert_to_internvl, convert_to_native
from internvl_da.model.convert_keys import to_original
from internvl_da.model.tiny import build_tiny_model


def write_original_35(path):
    model, tok = build_tiny_model("qwen3", seed=11)
    tensors = {k: v.contiguous() for k, v in to_original(dict(model.state_dict()), "qwen3").items()}
    path.mkdir(parents=True)
    save_file(tensors, path / "model.safetensors")
    text, vision = model.config.text_config, model.config.vision_config
    llm = {k: v for k, v in text.to_dict().items() if k != "model_type"}
    llm["architectures"] = ["Qwen3ForCausalLM"]
    (path / "config.json").write_text(json.dumps({
        "architectures": ["InternVLChatModel"], "force_image_size": 64, "downsample_ratio": 0.5,
        "template": "internvl2_5", "select_layer": -1, "ps_version": "v2", "llm_config": llm,
        "vision_config": {"hidden_size": vision.hidden_size, "num_hidden_layers": 2,
                          "num_attention_heads": 2, "intermediate_size": 64, "image_size": 64,
                          "patch_size": 16, "qkv_bias": True, "qk_normalization": False,
                          "layer_norm_eps": vision.layer_norm_eps, "norm_type": "layer_norm",
                          "hidden_act": "gelu", "initializer_factor": 1.0}}, indent=2))
    tok.save_pretrained(path)
    return model, tensors


def test_original_keys_are_the_internvl_layout_and_the_head_is_stored():
    model, _ = build_tiny_model("qwen3", seed=11)
    keys = set(to_original(dict(model.state_dict()), "qwen3"))
    assert "language_model.lm_head.weight" in keys and \
        "language_model.model.embed_tokens.weight" in keys
    assert "language_model.model.layers.0.self_attn.q_norm.weight" in keys
    assert "vision_model.encoder.layers.0.attn.qkv.weight" in keys and "mlp1.1.weight" in keys


def test_convert_logits_equal_and_round_trip_bit_identical(tmp_path):
    source, tensors = write_original_35(tmp_path / "orig")
    summary = convert_to_native(tmp_path / "orig", tmp_path / "native")
    assert summary.family == "qwen3" and summary.tensors_in == len(tensors)
    assert summary.tensors_out == len(tensors) + 2 * 2 * 2  # 2 layers x qkv.{weight,bias} -> 3
    native = InternVLForConditionalGeneration.from_pretrained(tmp_path / "native")
    config = native.config
    assert not config.tie_word_embeddings and config.text_config.head_dim == 32
    assert type(native.model.language_model).__name__ == "Qwen3Model"
    assert torch.equal(native.lm_head.weight, source.lm_head.weight)  # untied head kept
    tok = AutoTokenizer.from_pretrained(tmp_path / "native", trust_remote_code=False)
    ctx = tok.context_image_token_id
    ids = tok.encode("<|im_start|>user\n<img>", add_special_tokens=False) + [ctx] * 4 + \
        tok.encode("</img>\nWhat colour?<|im_end|>\n<|im_start|>assistant\n",
                   add_special_tokens=False)
    torch.manual_seed(0)
    inputs = {"input_ids": torch.tensor([ids]), "pixel_values": torch.randn(1, 3, 64, 64)}
    source.eval()
    native.eval()
    with torch.no_grad():
        assert torch.equal(native(**inputs).logits, source(**inputs).logits)
    convert_to_internvl(tmp_path / "native", tmp_path / "back")
    with safe_open(tmp_path / "back" / "model.safetensors", "pt") as handle:
        back = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    assert set(back) == set(tensors)
    assert all(torch.equal(back[k], tensors[k]) and back[k].dtype == tensors[k].dtype
               for k in tensors)
    assert (tmp_path / "back" / "config.json").read_bytes() == \
        (tmp_path / "orig" / "config.json").read_bytes()
