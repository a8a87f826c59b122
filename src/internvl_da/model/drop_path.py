"""Stochastic depth for the native InternViT (the recipe's `drop_path_rate = 0.1`).

transformers' `InternVLVisionLayer` has layer scale but no DropPath (spec training.md §18.8).
The reference InternViT block is
`x = x + drop_path1(attn(norm1(x)) * ls1)` then `x = x + drop_path2(mlp(norm2(x)) * ls2)`,
with per-sample DropPath and rates rising linearly from 0 (first layer) to the rate (last).
`enable_drop_path` swaps each vision layer's class for a subclass with that forward; in eval
mode (or at rate 0) it is exactly the original layer.
"""

from __future__ import annotations

import torch
from transformers.models.internvl.modeling_internvl import InternVLVisionLayer


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Zero whole samples with probability `rate`, rescale the rest (timm's drop_path)."""
    if rate == 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask.div_(keep)


class DropPathVisionLayer(InternVLVisionLayer):
    """InternVLVisionLayer with DropPath on both residual branches (same parameters)."""

    drop_path_rate: float = 0.0

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:  # (tiles, tokens, dim)
        attention_output, _ = self.attention(self.layernorm_before(hidden_states))
        hidden_states = hidden_states + drop_path(
            self.lambda_1 * attention_output, self.drop_path_rate, self.training)
        layer_output = self.dropout(self.mlp(self.layernorm_after(hidden_states)))
        if self.lambda_2 is not None:
            layer_output = self.lambda_2 * layer_output
        return hidden_states + drop_path(layer_output, self.drop_path_rate, self.training)


def enable_drop_path(model, rate: float) -> list[float]:
    """Give the vision layers linearly increasing drop-path rates 0 .. `rate`; returns them."""
    layers = model.model.vision_tower.encoder.layer
    rates = torch.linspace(0, rate, len(layers)).tolist() if len(layers) > 1 else [rate]
    for layer, layer_rate in zip(layers, rates, strict=True):
        layer.__class__ = DropPathVisionLayer
        layer.drop_path_rate = float(layer_rate)
    return rates
