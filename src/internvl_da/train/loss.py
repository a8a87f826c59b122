"""The recipe's loss (spec training.md §15.4): weighted token cross-entropy.

loss = sum_t w_t * CE_t / D, where w_t is the weight of the label token (len2weight of its
sub-sample: 1/sqrt(n) for "square") and D = sum_t w_t averaged across ranks, with no gradient
through D (`loss_reduction_all_gather`). Gradient accumulation divides by GA once (Trainer).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from internvl_da.data.tokens import IGNORE_INDEX


def weighted_lm_loss(logits: torch.Tensor, labels: torch.Tensor, loss_weight: torch.Tensor,
                     reduce_across_ranks: bool = True) -> torch.Tensor:
    """logits (B, L, V), labels (B, L), loss_weight (B, L) float32 -> scalar loss."""
    vocab = logits.shape[-1]
    ce = F.cross_entropy(logits[:, :-1].reshape(-1, vocab).float(),
                         labels[:, 1:].reshape(-1), reduction="none", ignore_index=IGNORE_INDEX)
    weights = loss_weight[:, 1:].reshape(-1).to(torch.float32)  # weight of each label token
    denominator = weights.sum().detach()
    if reduce_across_ranks and dist.is_available() and dist.is_initialized():
        dist.all_reduce(denominator)  # SUM then divide: gloo has no AVG
        denominator = denominator / dist.get_world_size()
    if denominator == 0:
        return (ce * weights).sum()  # no supervised token anywhere: a zero loss in the graph
    return (ce * weights).sum() / denominator
