"""Checkpoint conversion: coverage, shapes, logits parity and an exact round trip."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import AutoTokenizer, InternVLForConditionalGeneration

from internvl_da.model.convert import convert_to_internvl, convert_to_native
from internvl_da.model.convert_keys import Heads, to_native, to_original
from internvl_da.model.tiny import build_tiny_model

ORIGINAL = {"qwen2": ("qwen2", "Qwen2ForCausalLM", "Hermes-2"),
            "llama": ("internlm2", "InternLM2ForCausalLM", "internlm2-chat"),
            "phi3": ("phi3", "Phi3ForCausalLM", "phi3-chat")}


def write_original(path, family, shards=2):
    """A tiny checkpoint in the original InternVL2 layout (two shards), and its source model."""
    model, tok = build_tiny_model(family, seed=5)
    orig_family, arch, template = ORIGINAL[family]
    state = dict(model.state_dict())
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight")
    text = model.config.text_config
    heads = Heads(text.num_attention_heads, text.num_key_value_heads,
                  text.hidden_size // text.num_attention_heads)
    tensors = to_original(state, orig_family, heads)
    names = sorted(tensors)
    path.mkdir(parents=True)
    weight_map = {}
    for k in range(shards):
        part = {n: tensors[n].contiguous() for n in names[k::shards]}
        save_file(part, path / f"model-{k + 1:05d}-of-{shards:05d}.safetensors")
        weight_map.update({n: f"model-{k + 1:05d}-of-{shards:05d}.safetensors" for n in part})
    (path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    llm = {k: v for k, v in text.to_dict().items() if k != "model_type"}
    llm["architectures"] = [arch]
    if orig_family == "internlm2":
        llm["bias"] = llm.pop("attention_bias")
    vision = model.config.vision_config
    (path / "config.json").write_text(json.dumps({
        "architectures": ["InternVLChatModel"], "force_image_size": 64, "downsample_ratio": 0.5,
        "template": template, "select_layer": -1, "llm_config": llm,
        "vision_config": {"hidden_size": vision.hidden_size, "num_hidden_layers": 2,
                          "num_attention_heads": 2, "intermediate_size": 64, "image_size": 64,
                          "patch_size": 16, "qkv_bias": True, "qk_normalization": False,
                          "layer_norm_eps": vision.layer_norm_eps, "norm_type": "layer_norm",
                          "hidden_act": "gelu", "initializer_factor": 1.0}}))
    tok.save_pretrained(path)
    return model, tensors


def sample_inputs(tok):
    ctx = tok.context_image_token_id
    ids = torch.tensor([[40, 41, 3, ctx, ctx, ctx, ctx, 4, 50, 51, 52]])
    torch.manual_seed(0)
    return {"input_ids": ids, "pixel_values": torch.randn(1, 3, 64, 64)}


@pytest.mark.parametrize("family", ["qwen2", "llama", "phi3"])
def test_forward_conversion_logits_and_round_trip(tmp_path, family):
    source_model, tensors = write_original(tmp_path / "orig", family)
    code = "# remote code of the original checkpoint\n"
    (tmp_path / "orig" / "modeling_internvl_chat.py").write_text(code)
    summary = convert_to_native(tmp_path / "orig", tmp_path / "native")
    assert summary.tensors_in == len(tensors) and summary.shards == 2
    converted = InternVLForConditionalGeneration.from_pretrained(tmp_path / "native")
    tok = AutoTokenizer.from_pretrained(tmp_path / "native", trust_remote_code=False)
    inputs = sample_inputs(tok)
    source_model.eval()
    converted.eval()
    with torch.no_grad():
        assert torch.equal(converted(**inputs).logits, source_model(**inputs).logits)
    assert "<|" in tok.chat_template
    assert (tmp_path / "native" / "preprocessor_config.json").is_file()
    convert_to_internvl(tmp_path / "native", tmp_path / "back")
    with safe_open(tmp_path / "back" / "model.safetensors", "pt") as handle:
        back = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    assert set(back) == set(tensors)
    assert all(torch.equal(back[k], tensors[k]) for k in tensors)
    # the remote code travels along, so tools loading with trust_remote_code find it
    assert (tmp_path / "back" / "modeling_internvl_chat.py").read_text() == code
    assert not list((tmp_path / "native").glob("*.py"))  # never importable from the native one
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "back" / name).read_bytes() == (tmp_path / "orig" / name).read_bytes()


def test_fine_tuned_folder_keeps_what_to_internvl_needs(tmp_path):
    from internvl_da.model.convert import ORIGINAL_DIR, carry_original_files

    base, final = tmp_path / "base", tmp_path / "final"
    (base / ORIGINAL_DIR).mkdir(parents=True)
    final.mkdir()
    (base / ORIGINAL_DIR / "config.json").write_text("{}")
    (base / ORIGINAL_DIR / "modeling_x.py").write_text("x = 1\n")
    (base / "chat_template.jinja").write_text("tpl")  # convert's top-level tokenizer choice
    assert carry_original_files(base, final)
    assert (final / ORIGINAL_DIR / "config.json").read_text() == "{}"
    assert (final / ORIGINAL_DIR / "modeling_x.py").read_text() == "x = 1\n"
    assert (final / "chat_template.jinja").read_text() == "tpl"
    assert not (final / "tokenizer.json").exists()  # none written by convert: none carried
    # nothing to carry: no-op, and the caller saves its own tokenizer
    assert not carry_original_files(tmp_path / "tiny-base-without-them", final)


def test_internlm2_wqkv_layout():
    # 4 query heads, 2 KV heads, head_dim 1, hidden 1: rows are [q0 q1 k0 v0 | q2 q3 k1 v1].
    wqkv = torch.arange(8.0).reshape(8, 1)
    out = to_native("language_model.model.layers.0.attention.wqkv.weight", wqkv, "internlm2",
                    Heads(4, 2, 1))
    base = "model.language_model.layers.0.self_attn"
    assert out[f"{base}.q_proj.weight"].flatten().tolist() == [0, 1, 4, 5]
    assert out[f"{base}.k_proj.weight"].flatten().tolist() == [2, 6]
    assert out[f"{base}.v_proj.weight"].flatten().tolist() == [3, 7]


def test_errors_name_the_key(tmp_path):
    write_original(tmp_path / "orig", "qwen2", shards=1)
    shard = next((tmp_path / "orig").glob("*.safetensors"))
    with safe_open(shard, "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    extra = dict(tensors, **{"vision_model.mystery": torch.zeros(1)})
    save_file(extra, shard)
    with pytest.raises(KeyError, match=r"vision_model\.mystery"):
        convert_to_native(tmp_path / "orig", tmp_path / "a")
    missing = {k: v for k, v in tensors.items() if "mlp1.3.weight" not in k}
    save_file(missing, shard)
    with pytest.raises(KeyError, match=r"multi_modal_projector\.linear_2\.weight"):
        convert_to_native(tmp_path / "orig", tmp_path / "b")
    wrong = dict(tensors, **{"mlp1.3.bias": torch.zeros(3)})
    save_file(wrong, shard)
    with pytest.raises(ValueError, match=r"mlp1\.3\.bias .* shape \(3,\)"):
        convert_to_native(tmp_path / "orig", tmp_path / "c")
    config = json.loads((tmp_path / "orig" / "config.json").read_text())
    config["llm_config"]["architectures"] = ["MistralForCausalLM"]
    (tmp_path / "orig" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unsupported LLM architecture 'MistralForCausalLM'"):
        convert_to_native(tmp_path / "orig", tmp_path / "d")
