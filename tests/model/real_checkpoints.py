"""Real-config InternVL2 1B/2B/4B checkpoints for tests: depth cut, random weights, hub layout.

`write_checkpoint(folder, size, narrow)` writes what the hub folder holds:
- `config.json`: the REAL config (tests/assets/real_configs; 2B assembled below) with the vision
  tower and the LLM cut to two layers. `narrow=True` (the default tier) also shrinks widths and
  head counts while keeping everything that decides exactness of the conversion real: vocab,
  tokenizer, rope theta / scaling (the 4B LongRoPE factors need Phi-3's head dim 96, so it is
  kept), GQA ratio, image size / patch / downsample, norms, tie flag. `narrow=False` keeps the
  real widths too (hundreds of MB; slow tests).
- original-layout weights with the key names of the original InternVL2 code (InternViT
  `vision_model.*`, `mlp1.{0,1,3}`, and per LLM: Qwen2 `q/k/v_proj` with biases, InternLM2
  `tok_embeddings` / fused `attention.wqkv` / `feed_forward.w1,w2,w3` / `output`, Phi-3 fused
  `qkv_proj` / `gate_up_proj`), bfloat16 as released, in two shards with an index;
- the hub-layout tokenizer files (tests/model/real_tokenizers.py), `generation_config.json`,
  `preprocessor_config.json` and stand-in remote code (tests/model/remote_standins.py).
Shapes come from the config here, never from internvl_da's converter.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "real_configs"
FAMILY = {"1b": "qwen2", "2b": "internlm2", "4b": "phi3"}
# (num_attention_heads, num_key_value_heads, head_dim, intermediate) of the narrow tier.
NARROW_LLM = {"1b": (7, 1, 16, 224), "2b": (4, 2, 16, 128), "4b": (2, 2, 96, 256)}
NARROW_VISION = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128}
# internlm2-chat-1_8b, as InternVL2-2B embeds it (shared/real/README.md; the 2B config.json
# itself is not public): hidden 2048, 16 heads, 8 KV heads, rope_theta 1e6, dynamic NTK x2.
INTERNLM2_CHAT_1_8B = {
    "_name_or_path": "internlm/internlm2-chat-1_8b", "architectures": ["InternLM2ForCausalLM"],
    "attn_implementation": "flash_attention_2",
    "auto_map": {"AutoConfig": "configuration_internlm2.InternLM2Config",
                 "AutoModel": "modeling_internlm2.InternLM2ForCausalLM",
                 "AutoModelForCausalLM": "modeling_internlm2.InternLM2ForCausalLM"},
    "bias": False, "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 8192,
    "max_position_embeddings": 32768, "model_type": "internlm2", "num_attention_heads": 16,
    "num_hidden_layers": 24, "num_key_value_heads": 8, "pad_token_id": 2, "rms_norm_eps": 1e-05,
    "rope_scaling": {"type": "dynamic", "factor": 2.0}, "rope_theta": 1000000,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.37.2",
    "use_cache": True, "vocab_size": 92553,
}


def _sibling(name: str):
    """Load a helper module of this folder by path (pytest runs with --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(f"internvl_da_tests_{name}",
                                                  Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def real_config(size: str) -> dict:
    """The full-depth original config.json of `size` as a dict."""
    if size == "2b":
        config = json.loads((ASSETS / "internvl2-1b" / "config.json").read_text())
        config["llm_config"] = copy.deepcopy(INTERNLM2_CHAT_1_8B)
        config["template"] = "internlm2-chat"
        return config
    return json.loads((ASSETS / f"internvl2-{size}" / "config.json").read_text())


def cut_config(size: str, narrow: bool, layers: int = 2) -> dict:
    """The real config with `layers` layers each side (and narrow widths when asked)."""
    config = real_config(size)
    config["vision_config"]["num_hidden_layers"] = layers
    config["llm_config"]["num_hidden_layers"] = layers
    if narrow:
        config["vision_config"].update(NARROW_VISION)
        heads, kv, head_dim, inter = NARROW_LLM[size]
        config["llm_config"].update(num_attention_heads=heads, num_key_value_heads=kv,
                                    hidden_size=heads * head_dim, intermediate_size=inter)
    return config


def original_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Every tensor of the original InternVLChatModel for `config`, by its original name."""
    vis, llm = config["vision_config"], config["llm_config"]
    c, inter, patch = vis["hidden_size"], vis["intermediate_size"], vis["patch_size"]
    image = config.get("force_image_size") or vis["image_size"]
    shapes = {"vision_model.embeddings.class_embedding": (1, 1, c),
              "vision_model.embeddings.patch_embedding.weight": (c, 3, patch, patch),
              "vision_model.embeddings.patch_embedding.bias": (c,),
              "vision_model.embeddings.position_embedding": (1, (image // patch) ** 2 + 1, c)}
    for i in range(vis["num_hidden_layers"]):
        p = f"vision_model.encoder.layers.{i}."
        shapes.update({p + "attn.qkv.weight": (3 * c, c), p + "attn.qkv.bias": (3 * c,),
                       p + "attn.proj.weight": (c, c), p + "attn.proj.bias": (c,),
                       p + "ls1": (c,), p + "ls2": (c,), p + "mlp.fc1.weight": (inter, c),
                       p + "mlp.fc1.bias": (inter,), p + "mlp.fc2.weight": (c, inter),
                       p + "mlp.fc2.bias": (c,)})
        for norm in ("norm1", "norm2"):
            shapes.update({f"{p}{norm}.weight": (c,), f"{p}{norm}.bias": (c,)})
    h = llm["hidden_size"]
    c4 = c * int(1 / config["downsample_ratio"]) ** 2
    shapes.update({"mlp1.0.weight": (c4,), "mlp1.0.bias": (c4,), "mlp1.1.weight": (h, c4),
                   "mlp1.1.bias": (h,), "mlp1.3.weight": (h, h), "mlp1.3.bias": (h,)})
    shapes.update(_llm_shapes(llm))
    return shapes


def _llm_shapes(llm: dict) -> dict[str, tuple[int, ...]]:
    arch = llm["architectures"][0]
    h, inter, vocab = llm["hidden_size"], llm["intermediate_size"], llm["vocab_size"]
    heads = llm["num_attention_heads"]
    kv, d = llm.get("num_key_value_heads", heads), h // heads
    m = "language_model.model."
    internlm2 = arch == "InternLM2ForCausalLM"
    shapes = {m + ("tok_embeddings" if internlm2 else "embed_tokens") + ".weight": (vocab, h),
              m + "norm.weight": (h,)}
    if not llm.get("tie_word_embeddings", False):
        shapes["language_model." + ("output" if internlm2 else "lm_head") + ".weight"] = (vocab, h)
    for i in range(llm["num_hidden_layers"]):
        p = f"{m}layers.{i}."
        if internlm2:
            shapes.update({p + "attention.wqkv.weight": ((heads + 2 * kv) * d, h),
                           p + "attention.wo.weight": (h, heads * d),
                           p + "feed_forward.w1.weight": (inter, h),
                           p + "feed_forward.w3.weight": (inter, h),
                           p + "feed_forward.w2.weight": (h, inter),
                           p + "attention_norm.weight": (h,), p + "ffn_norm.weight": (h,)})
            continue
        shapes.update({p + "self_attn.o_proj.weight": (h, heads * d),
                       p + "mlp.down_proj.weight": (h, inter),
                       p + "input_layernorm.weight": (h,),
                       p + "post_attention_layernorm.weight": (h,)})
        if arch == "Phi3ForCausalLM":
            shapes.update({p + "self_attn.qkv_proj.weight": ((heads + 2 * kv) * d, h),
                           p + "mlp.gate_up_proj.weight": (2 * inter, h)})
        else:  # Qwen2: separate projections, q/k/v with bias
            shapes.update({p + "self_attn.q_proj.weight": (heads * d, h),
                           p + "self_attn.q_proj.bias": (heads * d,),
                           p + "self_attn.k_proj.weight": (kv * d, h),
                           p + "self_attn.k_proj.bias": (kv * d,),
                           p + "self_attn.v_proj.weight": (kv * d, h),
                           p + "self_attn.v_proj.bias": (kv * d,),
                           p + "mlp.gate_proj.weight": (inter, h),
                           p + "mlp.up_proj.weight": (inter, h)})
    return shapes


def random_tensors(shapes: dict, seed: int) -> dict[str, torch.Tensor]:
    """bfloat16 weights: norms/layer scales near 1, matrices ~ N(0, 1/fan_in), biases small."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in sorted(shapes.items()):
        x = torch.randn(shape, generator=gen)
        if name.endswith(("ls1", "ls2")) or (len(shape) == 1 and "norm" in name) or \
                name.startswith("mlp1.0.weight"):
            x = 1 + 0.1 * x
        elif len(shape) == 1:
            x = 0.02 * x
        elif "embed" in name or "tok_embeddings" in name or "position" in name or \
                "class_embedding" in name:
            x = 0.5 * x
        else:
            x = x / math.sqrt(math.prod(shape[1:]))
        out[name] = x.to(torch.bfloat16)
    return out


def write_checkpoint(folder: str | Path, size: str, narrow: bool = True,
                     seed: int = 0) -> tuple[dict, dict[str, torch.Tensor]]:
    """Write the original-layout checkpoint folder; (config, tensors by original name)."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    config = cut_config(size, narrow)
    tensors = random_tensors(original_shapes(config), seed)
    names = sorted(tensors)
    weight_map = {}
    for k, part in enumerate((names[::2], names[1::2])):
        shard = f"model-{k + 1:05d}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, folder / shard, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, shard))
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": sum(t.numel() * 2 for t in tensors.values())},
         "weight_map": weight_map}, indent=2))
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    _write_generation_files(folder, size)
    _sibling("real_tokenizers").write_real_tokenizer(size, folder)
    _sibling("remote_standins").write_remote_code(folder, FAMILY[size])
    return config, tensors


def _write_generation_files(folder: Path, size: str) -> None:
    real = ASSETS / f"internvl2-{size}"
    generation = (real / "generation_config.json").read_text() if size != "2b" else \
        json.dumps({"_from_model_config": True, "eos_token_id": [92542, 92543],
                    "transformers_version": "4.37.2"}, indent=2) + "\n"
    (folder / "generation_config.json").write_text(generation)
    preprocessor = ASSETS / "internvl2-1b" / "preprocessor_config.json"  # same for all sizes
    (folder / "preprocessor_config.json").write_bytes(preprocessor.read_bytes())
