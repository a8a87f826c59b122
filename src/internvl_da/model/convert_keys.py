"""Tensor name and layout mapping: original InternVL2 <-> native transformers InternVL.

Spec training.md §18 and §22 ("Converter details"), verified there bit-exact on tiny models:
- vision: class_embedding -> cls_token, patch_embedding -> patch_embeddings.projection,
  position_embedding -> position_embeddings, layers -> layer, attn.qkv split into
  attention.q/k/v_proj, attn.proj -> attention.projection_layer, ls1/ls2 -> lambda_1/lambda_2,
  norm1/norm2 -> layernorm_before/layernorm_after;
- projector: mlp1.0 / mlp1.1 / mlp1.3 -> multi_modal_projector.layer_norm / linear_1 / linear_2;
- Qwen2 and Phi-3 keep their names (Phi-3's fused qkv_proj / gate_up_proj stay fused);
- InternLM2 -> Llama: tok_embeddings -> embed_tokens, attention.wo -> self_attn.o_proj,
  feed_forward.w1/w3/w2 -> mlp.gate_proj/up_proj/down_proj, attention_norm ->
  input_layernorm, ffn_norm -> post_attention_layernorm, output -> lm_head, and wqkv viewed as
  [num_kv_heads, q_per_kv + 2, head_dim, hidden] (per KV head: its queries, one key, one value).
Each function maps one tensor (or one fused group), so a checkpoint converts shard by shard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

# (original, native) name templates; "{i}" is a layer index, a trailing "." a prefix.
VISION_NAMES = (
    ("vision_model.embeddings.class_embedding", "model.vision_tower.embeddings.cls_token"),
    ("vision_model.embeddings.patch_embedding.",
     "model.vision_tower.embeddings.patch_embeddings.projection."),
    ("vision_model.embeddings.position_embedding",
     "model.vision_tower.embeddings.position_embeddings"),
    ("vision_model.encoder.layers.{i}.attn.proj.",
     "model.vision_tower.encoder.layer.{i}.attention.projection_layer."),
    ("vision_model.encoder.layers.{i}.attn.q_norm.",
     "model.vision_tower.encoder.layer.{i}.attention.q_norm."),
    ("vision_model.encoder.layers.{i}.attn.k_norm.",
     "model.vision_tower.encoder.layer.{i}.attention.k_norm."),
    ("vision_model.encoder.layers.{i}.ls1", "model.vision_tower.encoder.layer.{i}.lambda_1"),
    ("vision_model.encoder.layers.{i}.ls2", "model.vision_tower.encoder.layer.{i}.lambda_2"),
    ("vision_model.encoder.layers.{i}.norm1.",
     "model.vision_tower.encoder.layer.{i}.layernorm_before."),
    ("vision_model.encoder.layers.{i}.norm2.",
     "model.vision_tower.encoder.layer.{i}.layernorm_after."),
    ("vision_model.encoder.layers.{i}.mlp.", "model.vision_tower.encoder.layer.{i}.mlp."),
    ("mlp1.0.", "model.multi_modal_projector.layer_norm."),
    ("mlp1.1.", "model.multi_modal_projector.linear_1."),
    ("mlp1.3.", "model.multi_modal_projector.linear_2."),
)
PASS_THROUGH_NAMES = (
    ("language_model.model.", "model.language_model."),
    ("language_model.lm_head.", "lm_head."),
)
INTERNLM2_NAMES = (
    ("language_model.model.tok_embeddings.", "model.language_model.embed_tokens."),
    ("language_model.model.layers.{i}.attention.wo.",
     "model.language_model.layers.{i}.self_attn.o_proj."),
    ("language_model.model.layers.{i}.feed_forward.w1.",
     "model.language_model.layers.{i}.mlp.gate_proj."),
    ("language_model.model.layers.{i}.feed_forward.w3.",
     "model.language_model.layers.{i}.mlp.up_proj."),
    ("language_model.model.layers.{i}.feed_forward.w2.",
     "model.language_model.layers.{i}.mlp.down_proj."),
    ("language_model.model.layers.{i}.attention_norm.",
     "model.language_model.layers.{i}.input_layernorm."),
    ("language_model.model.layers.{i}.ffn_norm.",
     "model.language_model.layers.{i}.post_attention_layernorm."),
    ("language_model.model.norm.", "model.language_model.norm."),
    ("language_model.output.", "lm_head."),
)


def _compile(pairs, reverse: bool = False) -> tuple:
    """(regex, replacement) rules from name templates, in either direction."""
    rules = []
    for original, native in pairs:
        src, dst = (native, original) if reverse else (original, native)
        pattern = "^" + re.escape(src).replace(re.escape("{i}"), r"(\d+)")
        replacement = dst.replace("{i}", r"\1")
        if src.endswith("."):
            group = 2 if "{i}" in src else 1
            pattern, replacement = pattern + "(.+)$", replacement + f"\\{group}"
        else:
            pattern += "$"
        rules.append((pattern, replacement))
    return tuple(rules)


VISION_RENAMES = _compile(VISION_NAMES)
PASS_THROUGH_LLM = _compile(PASS_THROUGH_NAMES)
INTERNLM2_RENAMES = _compile(INTERNLM2_NAMES)
VIT_QKV = re.compile(r"^vision_model\.encoder\.layers\.(\d+)\.attn\.qkv\.(weight|bias)$")
WQKV = re.compile(r"^language_model\.model\.layers\.(\d+)\.attention\.wqkv\.(weight|bias)$")


@dataclass(frozen=True)
class Heads:
    """InternLM2 attention geometry, for the wqkv split."""

    num_heads: int
    num_kv_heads: int
    head_dim: int


def _rename(name: str, table) -> str | None:
    for pattern, target in table:
        new, n = re.subn(pattern, target, name)
        if n:
            return new
    return None


def to_native(name: str, tensor: torch.Tensor, family: str,
              heads: Heads | None = None) -> dict[str, torch.Tensor]:
    """Native tensors for one original tensor; KeyError for a name nothing maps."""
    if m := VIT_QKV.match(name):
        q, k, v = tensor.chunk(3, dim=0)
        base = f"model.vision_tower.encoder.layer.{m[1]}.attention"
        return {f"{base}.q_proj.{m[2]}": q, f"{base}.k_proj.{m[2]}": k,
                f"{base}.v_proj.{m[2]}": v}
    if family == "internlm2" and (m := WQKV.match(name)):
        return _split_wqkv(tensor, heads, f"model.language_model.layers.{m[1]}.self_attn", m[2])
    llm_table = INTERNLM2_RENAMES if family == "internlm2" else PASS_THROUGH_LLM
    new = _rename(name, VISION_RENAMES) or _rename(name, llm_table)
    if new is None:
        raise KeyError(f"no mapping for tensor {name!r} (family {family})")
    return {new: tensor}


def _split_wqkv(tensor: torch.Tensor, heads: Heads, base: str, kind: str) -> dict:
    per_kv = heads.num_heads // heads.num_kv_heads
    grouped = tensor.reshape(heads.num_kv_heads, per_kv + 2, heads.head_dim, *tensor.shape[1:])
    rest = tensor.shape[1:]
    q = grouped[:, :per_kv].reshape(heads.num_heads * heads.head_dim, *rest)
    k = grouped[:, per_kv].reshape(heads.num_kv_heads * heads.head_dim, *rest)
    v = grouped[:, per_kv + 1].reshape(heads.num_kv_heads * heads.head_dim, *rest)
    return {f"{base}.q_proj.{kind}": q.contiguous(), f"{base}.k_proj.{kind}": k.contiguous(),
            f"{base}.v_proj.{kind}": v.contiguous()}


def _merge_wqkv(q, k, v, heads: Heads) -> torch.Tensor:
    per_kv = heads.num_heads // heads.num_kv_heads
    rest = q.shape[1:]
    qg = q.reshape(heads.num_kv_heads, per_kv, heads.head_dim, *rest)
    kg = k.reshape(heads.num_kv_heads, 1, heads.head_dim, *rest)
    vg = v.reshape(heads.num_kv_heads, 1, heads.head_dim, *rest)
    merged = torch.cat([qg, kg, vg], dim=1)
    return merged.reshape(-1, *rest).contiguous()


def to_original(tensors: dict[str, torch.Tensor], family: str,
                heads: Heads | None = None) -> dict[str, torch.Tensor]:
    """Original-layout tensors for a complete set of native tensors (fused groups merged)."""
    out: dict[str, torch.Tensor] = {}
    pending = dict(tensors)
    for name in sorted(tensors):
        m = re.match(r"^model\.vision_tower\.encoder\.layer\.(\d+)\.attention\.q_proj\.(\w+)$",
                     name)
        if m:
            base = f"model.vision_tower.encoder.layer.{m[1]}.attention"
            parts = [pending.pop(f"{base}.{p}_proj.{m[2]}") for p in "qkv"]
            out[f"vision_model.encoder.layers.{m[1]}.attn.qkv.{m[2]}"] = torch.cat(parts)
        m = re.match(r"^model\.language_model\.layers\.(\d+)\.self_attn\.q_proj\.(\w+)$", name)
        if m and family == "internlm2":
            base = f"model.language_model.layers.{m[1]}.self_attn"
            q, k, v = (pending.pop(f"{base}.{p}_proj.{m[2]}") for p in "qkv")
            out[f"language_model.model.layers.{m[1]}.attention.wqkv.{m[2]}"] = \
                _merge_wqkv(q, k, v, heads)
    tables = _compile(VISION_NAMES, reverse=True) + _compile(
        INTERNLM2_NAMES if family == "internlm2" else PASS_THROUGH_NAMES, reverse=True)
    for name, tensor in pending.items():
        new = _rename(name, tables)
        if new is None:
            raise KeyError(f"no mapping back to the original layout for {name!r}")
        out[new] = tensor
    return out
