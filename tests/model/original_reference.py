"""An independent forward pass of the ORIGINAL InternVL2 architecture, on original-layout tensors.

Test helper only: it reads the original checkpoint's config dict and its tensors by their
original names (`vision_model.*`, `mlp1.*`, `language_model.*`) and computes logits the way the
released remote code does, written from the architecture facts of spec training.md §17 and the
original modules (InternViT `InternAttention._naive_attn`, `InternVisionEncoderLayer`,
`InternVLChatModel.extract_feature` / `pixel_shuffle` v2; Qwen2 / InternLM2 / Phi-3 decoder
layers with rotate-half RoPE; InternLM2's grouped `wqkv`; Phi-3's fused `qkv_proj` /
`gate_up_proj` and its `su` LongRoPE). It shares no code with internvl_da's converter, so a
mapping bug there cannot cancel out here. Eager float32 math, no cache; short sequences only
for InternLM2's dynamic NTK RoPE (it equals plain RoPE up to `max_position_embeddings`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _linear(x, w: dict, name: str) -> torch.Tensor:
    return F.linear(x, w[f"{name}.weight"], w.get(f"{name}.bias"))


def _rms(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def vision_features(w: dict, vis: dict, pixel_values: torch.Tensor) -> torch.Tensor:
    """InternViT last_hidden_state: (tiles, 1 + patches, C); no final norm."""
    p = "vision_model."
    x = F.conv2d(pixel_values, w[p + "embeddings.patch_embedding.weight"],
                 w[p + "embeddings.patch_embedding.bias"], stride=vis["patch_size"])
    x = x.flatten(2).transpose(1, 2)  # (tiles, patches, C), patches row-major
    cls = w[p + "embeddings.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + w[p + "embeddings.position_embedding"]
    heads, eps = vis["num_attention_heads"], vis.get("layer_norm_eps", 1e-6)
    for i in range(vis["num_hidden_layers"]):
        q = f"{p}encoder.layers.{i}."
        h = F.layer_norm(x, x.shape[-1:], w[q + "norm1.weight"], w[q + "norm1.bias"], eps)
        x = x + _vit_attention(h, w, q + "attn.", heads) * w[q + "ls1"]
        h = F.layer_norm(x, x.shape[-1:], w[q + "norm2.weight"], w[q + "norm2.bias"], eps)
        h = _linear(F.gelu(_linear(h, w, q + "mlp.fc1")), w, q + "mlp.fc2")
        x = x + h * w[q + "ls2"]
    return x


def _vit_attention(x, w, prefix, heads):
    b, n, c = x.shape
    qkv = _linear(x, w, prefix + "qkv").reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)  # (b, heads, n, d) each
    attn = ((q * (c // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
    return _linear((attn @ v).transpose(1, 2).reshape(b, n, c), w, prefix + "proj")


def pixel_shuffle_v2(x: torch.Tensor, scale: float = 0.5) -> torch.Tensor:
    """The reference `pixel_shuffle` with ps_version v2: (n, w, h, c) -> (n, w/2, h/2, 4c)."""
    n, wd, ht, c = x.shape
    x = x.view(n, wd, int(ht * scale), int(c / scale)).permute(0, 2, 1, 3).contiguous()
    x = x.view(n, int(ht * scale), int(wd * scale), int(c / (scale * scale)))
    return x.permute(0, 2, 1, 3).contiguous()


def image_embeddings(w: dict, config: dict, pixel_values: torch.Tensor) -> torch.Tensor:
    """`extract_feature`: drop CLS, 32x32 grid, pixel shuffle, mlp1 -> (tiles, 256, H_llm)."""
    x = vision_features(w, config["vision_config"], pixel_values)[:, 1:]
    side = int(x.shape[1] ** 0.5)
    x = pixel_shuffle_v2(x.reshape(x.shape[0], side, side, -1), config["downsample_ratio"])
    x = x.reshape(x.shape[0], -1, x.shape[-1])
    x = F.layer_norm(x, x.shape[-1:], w["mlp1.0.weight"], w["mlp1.0.bias"], 1e-5)
    return _linear(F.gelu(_linear(x, w, "mlp1.1")), w, "mlp1.3")


def _rope(llm: dict, family: str, positions: torch.Tensor, head_dim: int):
    base = llm.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scale = 1.0
    scaling = llm.get("rope_scaling") or {}
    if family == "phi3" and scaling.get("type") in ("su", "longrope"):
        original = llm["original_max_position_embeddings"]
        long = int(positions.max()) + 1 > original  # Phi3SuScaledRotaryEmbedding's rule
        factors = torch.tensor(scaling["long_factor" if long else "short_factor"],
                               dtype=torch.float32)
        inv = 1.0 / (factors * base ** (torch.arange(0, head_dim, 2).float() / head_dim))
        ratio = llm["max_position_embeddings"] / original
        scale = math.sqrt(1 + math.log(ratio) / math.log(original)) if ratio > 1 else 1.0
    elif family == "internlm2" and scaling:
        assert int(positions.max()) < llm["max_position_embeddings"], "dynamic NTK not modelled"
    freqs = positions.float()[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos() * scale, emb.sin() * scale


def _rotate(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def _qkv(h, w, prefix, family, llm):
    """(q, k, v) as (n, heads, d) / (n, kv_heads, d) from each family's own projection layout."""
    heads = llm["num_attention_heads"]
    kv = llm.get("num_key_value_heads", heads)
    d = llm["hidden_size"] // heads
    n = h.shape[0]
    if family == "internlm2":  # einops "(h gs d)" with gs = q_per_kv + 2: queries, key, value
        fused = _linear(h, w, prefix + "attention.wqkv").view(n, kv, heads // kv + 2, d)
        return (fused[:, :, :-2].reshape(n, heads, d), fused[:, :, -2], fused[:, :, -1])
    if family == "phi3":
        fused = _linear(h, w, prefix + "self_attn.qkv_proj")
        q, k, v = fused.split([heads * d, kv * d, kv * d], dim=-1)
    else:
        q, k, v = (_linear(h, w, prefix + f"self_attn.{p}_proj") for p in "qkv")
    return q.view(n, heads, d), k.view(n, kv, d), v.view(n, kv, d)


def _decoder_layer(x, w, i, family, llm, cos, sin):
    names = LAYER_NAMES[family]
    prefix = f"language_model.model.layers.{i}."
    eps = llm["rms_norm_eps"]
    h = _rms(x, w[prefix + names["norm1"]], eps)
    q, k, v = _qkv(h, w, prefix, family, llm)
    q, k = _rotate(q, cos[:, None], sin[:, None]), _rotate(k, cos[:, None], sin[:, None])
    repeat = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
    scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(q.shape[-1])
    n = x.shape[0]
    scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    out = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(n, -1)
    x = x + _linear(out, w, prefix + names["o"])
    h = _rms(x, w[prefix + names["norm2"]], eps)
    if family == "phi3":
        gate, up = _linear(h, w, prefix + "mlp.gate_up_proj").chunk(2, dim=-1)
    else:
        gate, up = _linear(h, w, prefix + names["gate"]), _linear(h, w, prefix + names["up"])
    return x + _linear(F.silu(gate) * up, w, prefix + names["down"])


LAYER_NAMES = {
    "internlm2": {"norm1": "attention_norm.weight", "norm2": "ffn_norm.weight",
                  "o": "attention.wo", "gate": "feed_forward.w1", "up": "feed_forward.w3",
                  "down": "feed_forward.w2"},
    **{f: {"norm1": "input_layernorm.weight", "norm2": "post_attention_layernorm.weight",
           "o": "self_attn.o_proj", "gate": "mlp.gate_proj", "up": "mlp.up_proj",
           "down": "mlp.down_proj"} for f in ("qwen2", "phi3")},
}
FAMILY = {"Qwen2ForCausalLM": "qwen2", "InternLM2ForCausalLM": "internlm2",
          "Phi3ForCausalLM": "phi3"}


def logits(w: dict, config: dict, input_ids: torch.Tensor, image_token_id: int,
           pixel_values: torch.Tensor | None = None) -> torch.Tensor:
    """(len, vocab) float32 logits of one sequence `input_ids` (1-D), images injected in order."""
    w = {k: v.float() for k, v in w.items()}
    llm = config["llm_config"]
    family = FAMILY[llm["architectures"][0]]
    embed = w["language_model.model.tok_embeddings.weight" if family == "internlm2"
              else "language_model.model.embed_tokens.weight"]
    x = embed[input_ids].clone()
    if pixel_values is not None:
        vit = image_embeddings(w, config, pixel_values.float()).reshape(-1, x.shape[-1])
        selected = input_ids == image_token_id
        assert int(selected.sum()) == vit.shape[0], "one <IMG_CONTEXT> per image embedding"
        x[selected] = vit
    head_dim = llm["hidden_size"] // llm["num_attention_heads"]
    cos, sin = _rope(llm, family, torch.arange(x.shape[0]), head_dim)
    for i in range(llm["num_hidden_layers"]):
        x = _decoder_layer(x, w, i, family, llm, cos, sin)
    x = _rms(x, w["language_model.model.norm.weight"], llm["rms_norm_eps"])
    head = "language_model.output.weight" if family == "internlm2" else \
        "language_model.lm_head.weight"
    return F.linear(x, w.get(head, embed))


def greedy(w: dict, config: dict, input_ids: torch.Tensor, image_token_id: int,
           pixel_values: torch.Tensor | None, steps: int) -> list[int]:
    """`steps` greedy tokens, recomputing the whole sequence each step (no cache)."""
    ids = input_ids
    out = []
    for _ in range(steps):
        nxt = int(logits(w, config, ids, image_token_id, pixel_values)[-1].argmax())
        out.append(nxt)
        ids = torch.cat([ids, torch.tensor([nxt])])
    return out
