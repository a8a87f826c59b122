"""Packing, loss weights and collators (reference `internvl_chat/internvl/train/dataset_packed.py`).

The reference packer (spec training.md §15.1): buffers are kept sorted by tile count,
descending; a sample goes into the first buffer where tiles <= max_tiles and tokens <=
max_tokens after adding it, else into a new buffer (inserted before the first buffer with fewer
tiles); a buffer is yielded when it holds exactly max_tokens, when it leads the list with exactly
max_tiles, or as the first buffer when more than max_buffers are open; the rest is flushed at
the end. Its "split at image boundaries" branch only runs for buffers above max_tokens, which
cannot happen while max_length (8192) <= max_tokens / 2; a single sample above the limits is an
error here (the reference logs it and drops it).

Loss (§15.4): per supervised token of a sub-sample with n supervised tokens, weight
`len2weight(n)`; square -> 1/sqrt(n). Weights stay float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from internvl_da.data.tokens import IGNORE_INDEX

REDUCTIONS = ("token", "sample", "square")


def len2weight(num_supervised: int, reduction: str) -> float:
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown loss reduction {reduction!r}; choose from {REDUCTIONS}")
    if num_supervised == 0:
        return 0.0
    return {"token": 1.0, "sample": 1.0 / num_supervised,
            "square": 1.0 / math.sqrt(num_supervised)}[reduction]


def loss_weights(labels: torch.Tensor, reduction: str) -> torch.Tensor:
    """Float32 weight per position of one sample: len2weight on supervised tokens, else 0."""
    supervised = labels != IGNORE_INDEX
    weight = len2weight(int(supervised.sum()), reduction)
    return supervised.to(torch.float32) * weight


@dataclass
class Buffer:
    refs: list = field(default_factory=list)
    tokens: int = 0
    tiles: int = 0


class Packer:
    """The reference greedy packer over (ref, tokens, tiles) items; refs are opaque."""

    def __init__(self, max_tokens: int = 16384, max_tiles: int = 48, max_buffers: int = 20):
        self.max_tokens, self.max_tiles, self.max_buffers = max_tokens, max_tiles, max_buffers
        self.buffers: list[Buffer] = []  # sorted by tiles, descending

    def add(self, ref, tokens: int, tiles: int) -> list[Buffer]:
        """Add one sample; returns the buffers ready to be yielded, in yield order."""
        if tokens > self.max_tokens or tiles > self.max_tiles:
            raise ValueError(f"sample {ref!r} has {tokens} tokens and {tiles} tiles; a pack "
                             f"holds at most {self.max_tokens} tokens and {self.max_tiles} tiles")
        buffer = self._take_fitting(tokens, tiles) or Buffer()
        buffer.refs.append(ref)
        buffer.tokens += tokens
        buffer.tiles += tiles
        ready = []
        if buffer.tokens == self.max_tokens:
            ready.append(buffer)
        else:
            at = next((k for k, b in enumerate(self.buffers) if b.tiles < buffer.tiles),
                      len(self.buffers))
            self.buffers.insert(at, buffer)
        while len(self.buffers) > self.max_buffers:
            ready.append(self.buffers.pop(0))
        while self.buffers and self.buffers[0].tiles == self.max_tiles:
            ready.append(self.buffers.pop(0))
        return ready

    def _take_fitting(self, tokens: int, tiles: int) -> Buffer | None:
        for k, b in enumerate(self.buffers):
            if b.tiles + tiles <= self.max_tiles and b.tokens + tokens <= self.max_tokens:
                return self.buffers.pop(k)
        return None

    def flush(self) -> list[Buffer]:
        ready, self.buffers = self.buffers, []
        return ready

    def state_dict(self) -> dict:
        return {"buffers": [(list(b.refs), b.tokens, b.tiles) for b in self.buffers]}

    def load_state_dict(self, state: dict) -> None:
        self.buffers = [Buffer(list(refs), tokens, tiles)
                        for refs, tokens, tiles in state["buffers"]]


def concat_samples(samples: Sequence[dict], reduction: str) -> dict:
    """One packed row: sub-samples concatenated, positions restarting, float32 loss weights."""
    return {
        "input_ids": torch.cat([s["input_ids"] for s in samples]),
        "labels": torch.cat([s["labels"] for s in samples]),
        "position_ids": torch.cat([torch.arange(len(s["input_ids"])) for s in samples]),
        "loss_weight": torch.cat([loss_weights(s["labels"], reduction) for s in samples]),
        "pixel_values": torch.cat([s["pixel_values"] for s in samples]),  # image-block order
        "image_flags": torch.cat([s["image_flags"] for s in samples]),
        "sample_lengths": [len(s["input_ids"]) for s in samples],
        "ids": [s["id"] for s in samples],
    }


def block_diagonal_causal_mask(sample_lengths: Sequence[int], total: int | None = None,
                               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Additive mask [1, 1, L, L]: 0 where a token may attend (same sub-sample, not future),
    dtype-min elsewhere; positions past sum(sample_lengths) (padding) attend only to
    themselves so that no row is fully masked. eager needs this float form (stack-notes)."""
    length = total or sum(sample_lengths)
    segment = torch.full((length,), -1, dtype=torch.long)
    start = 0
    for k, n in enumerate(sample_lengths):
        segment[start:start + n] = k
        start += n
    same = segment[:, None] == segment[None, :]
    pad = segment < 0
    allowed = (same & ~pad[:, None]) | torch.eye(length, dtype=torch.bool)
    allowed &= torch.ones(length, length, dtype=torch.bool).tril()
    mask = torch.zeros(length, length, dtype=dtype)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[None, None]


def _pad(tensors: Sequence[torch.Tensor], value) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence(list(tensors), batch_first=True, padding_value=value)


def collate_packed(rows: Sequence[dict], pad_token_id: int) -> dict:
    """Micro-batch of packed rows (usually one): right-padded, with a 4D block-diagonal mask.

    All rows of a batch come from one DataLoader worker; `stream_state` (if the rows carry
    it) is that worker's stream position after the last row, for O(1) resume.
    """
    length = max(len(r["input_ids"]) for r in rows)
    batch = {
        "input_ids": _pad([r["input_ids"] for r in rows], pad_token_id),
        "labels": _pad([r["labels"] for r in rows], IGNORE_INDEX),
        "position_ids": _pad([r["position_ids"] for r in rows], 0),
        "loss_weight": _pad([r["loss_weight"] for r in rows], 0.0),
        "attention_mask": torch.cat([block_diagonal_causal_mask(r["sample_lengths"], length)
                                     for r in rows]),
        "pixel_values": torch.cat([r["pixel_values"] for r in rows]),
        "image_flags": torch.cat([r["image_flags"] for r in rows]),
        "sample_lengths": [r["sample_lengths"] for r in rows],
    }
    if "stream_state" in rows[-1]:  # the producing stream's position after this batch
        batch["stream_state"] = rows[-1]["stream_state"]
    return batch


def collate_padded(samples: Sequence[dict], pad_token_id: int, reduction: str = "token") -> dict:
    """Unpacked micro-batch padded to its longest sample (not to max_length)."""
    ids = [s["input_ids"] for s in samples]
    return {
        "input_ids": _pad(ids, pad_token_id),
        "labels": _pad([s["labels"] for s in samples], IGNORE_INDEX),
        "attention_mask": _pad([torch.ones(len(i), dtype=torch.long) for i in ids], 0),
        "position_ids": _pad([s["position_ids"] for s in samples], 0),
        "loss_weight": _pad([loss_weights(s["labels"], reduction) for s in samples], 0.0),
        "pixel_values": torch.cat([s["pixel_values"] for s in samples]),
        "image_flags": torch.cat([s["image_flags"] for s in samples]),
    }


def padding_stats(batch: dict) -> dict:
    """Samples, tokens and padding share of a collated batch (reference `statistics`, §15.2)."""
    total = batch["input_ids"].numel()
    if "sample_lengths" in batch:
        samples = sum(len(lengths) for lengths in batch["sample_lengths"])
        useful = sum(sum(lengths) for lengths in batch["sample_lengths"])
    else:
        samples = batch["input_ids"].shape[0]
        useful = int(batch["attention_mask"].sum())
    return {"samples": samples, "tokens": total, "useful": useful,
            "padding_ratio": 1 - useful / total}
