"""Config mapping: original InternVL2 `config.json` -> native `InternVLConfig` (spec §18.5).

The original dict is never modified: every function here works on a deep copy. (transformers 5
config classes standardise `rope_scaling` IN PLACE, adding `rope_theta` / `rope_type`; a shallow
copy let that leak into the original config, which `--to-internvl` then wrote back and the
original InternLM2 code refused: "rope_scaling must be a dictionary with with two fields".)
"""

from __future__ import annotations

import copy

from internvl_da.model.convert_keys import Heads

# Qwen3: original-layout InternVL3.5 (InternVLChatModel of internvl_chat_gpt_oss); its LLM keys
# need no renaming and only the vision/projector renames apply (spec internvl35.md §3.5).
FAMILIES = {"Qwen2ForCausalLM": "qwen2", "InternLM2ForCausalLM": "internlm2",
            "Phi3ForCausalLM": "phi3", "Qwen3ForCausalLM": "qwen3"}
TEMPLATE_BY_FAMILY = {"qwen2": "Hermes-2", "internlm2": "internlm2-chat", "phi3": "phi3-chat",
                      "qwen3": "internvl2_5"}
# Keys of the original llm_config that describe the remote-code class or the runtime, not the
# model: dropped before building the native text config.
NOT_MODEL_KEYS = ("architectures", "auto_map", "model_type", "_name_or_path",
                  "transformers_version", "attn_implementation", "_attn_implementation",
                  "_commit_hash")


def llm_family(original: dict, source: str) -> str:
    archs = original.get("llm_config", {}).get("architectures") or ["?"]
    if archs[0] not in FAMILIES:
        raise ValueError(f"{source}: unsupported LLM architecture {archs[0]!r}; supported: "
                         f"{sorted(FAMILIES)}")
    return FAMILIES[archs[0]]


def internlm2_heads(llm: dict) -> Heads:
    heads = llm["num_attention_heads"]
    return Heads(heads, llm.get("num_key_value_heads", heads), llm["hidden_size"] // heads)


def text_config(llm: dict, family: str):
    """The native text config: InternLM2 becomes Llama; Phi-3's `su` RoPE becomes longrope;
    Qwen3 keeps its own `head_dim` (not hidden/heads) and `tie_word_embeddings` (False for
    InternVL3.5: the reference takes it from llm_config, spec internvl35.md §3.1)."""
    from transformers import LlamaConfig, Phi3Config, Qwen2Config, Qwen3Config

    keep = {k: v for k, v in copy.deepcopy(llm).items() if k not in NOT_MODEL_KEYS}
    if family == "internlm2":
        if "bias" in keep:
            keep["attention_bias"] = keep.pop("bias")
        return LlamaConfig(**keep)
    if family == "phi3":
        scaling = keep.get("rope_scaling")
        if scaling and scaling.get("type") == "su":
            keep["rope_scaling"] = {**{k: v for k, v in scaling.items() if k != "type"},
                                    "rope_type": "longrope"}
        return Phi3Config(**keep)
    if family == "qwen3":
        return Qwen3Config(**keep)
    return Qwen2Config(**keep)


def native_config(original: dict, family: str, image_token_id: int):
    """`InternVLConfig` for the original config (which stays untouched)."""
    from transformers import InternVLConfig, InternVLVisionConfig

    original = copy.deepcopy(original)
    vis = original["vision_config"]
    size = original.get("force_image_size") or vis["image_size"]
    patch = vis["patch_size"]
    ratio = original.get("downsample_ratio", 0.5)
    vision = InternVLVisionConfig(
        hidden_size=vis["hidden_size"], num_hidden_layers=vis["num_hidden_layers"],
        num_attention_heads=vis["num_attention_heads"],
        intermediate_size=vis["intermediate_size"], hidden_act=vis.get("hidden_act", "gelu"),
        image_size=[size, size], patch_size=[patch, patch],
        attention_bias=vis.get("qkv_bias", True), use_qk_norm=vis.get("qk_normalization", False),
        norm_type=vis.get("norm_type", "layer_norm"),
        layer_norm_eps=vis.get("layer_norm_eps", 1e-6),
        attention_dropout=vis.get("attention_dropout", 0.0),
        projection_dropout=vis.get("attention_dropout", 0.0), use_mean_pooling=True,
        use_absolute_position_embeddings=True,
        layer_scale_init_value=vis.get("initializer_factor", 1.0))
    text = text_config(original["llm_config"], family)
    return InternVLConfig(
        vision_config=vision, text_config=text, image_token_id=image_token_id,
        image_seq_length=int((size // patch) ** 2 * ratio ** 2), downsample_ratio=ratio,
        vision_feature_layer=original.get("select_layer", -1),
        vision_feature_select_strategy="default", projector_hidden_act="gelu",
        tie_word_embeddings=bool(original["llm_config"].get("tie_word_embeddings", False)))
