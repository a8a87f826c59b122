"""The reference packer rule by rule, loss weights, masks and collators."""

from __future__ import annotations

import math

import pytest
import torch

from internvl_da.data import packing
from internvl_da.data.stream import PackedDataset
from internvl_da.data.tokens import IGNORE_INDEX


def refs(buffers):
    return [b.refs for b in buffers]


def test_len2weight():
    assert packing.len2weight(0, "square") == 0.0
    assert packing.len2weight(16, "square") == 0.25
    assert packing.len2weight(4, "sample") == 0.25
    assert packing.len2weight(4, "token") == 1.0
    with pytest.raises(ValueError, match="unknown loss reduction"):
        packing.len2weight(1, "mean")


def test_loss_weights_float32():
    labels = torch.tensor([IGNORE_INDEX, 5, 6, IGNORE_INDEX, 7, 8])
    w = packing.loss_weights(labels, "square")
    assert w.dtype == torch.float32
    assert w.tolist() == [0.0, 0.5, 0.5, 0.0, 0.5, 0.5]


def test_first_fit_in_tile_order_and_insertion():
    p = packing.Packer(max_tokens=100, max_tiles=10, max_buffers=5)
    assert p.add("a", 60, 3) == []
    assert p.add("b", 60, 5) == []  # does not fit "a" (120 tokens) -> new buffer, sorted first
    assert refs(p.buffers) == [["b"], ["a"]]
    assert p.add("c", 30, 2) == []  # first fitting buffer in tile order is "b" (5+2 tiles)
    assert refs(p.buffers) == [["b", "c"], ["a"]]
    # b+c has 7 tiles: +3 = 10 = max_tiles at the front of the list -> yielded at once
    assert refs(p.add("d", 5, 3)) == [["b", "c", "d"]]
    assert refs(p.buffers) == [["a"]]
    # A new buffer with as many tiles as an existing one goes after it (stable).
    p2 = packing.Packer(max_tokens=10, max_tiles=10)
    p2.add("x", 8, 2)
    p2.add("y", 8, 2)
    assert refs(p2.buffers) == [["x"], ["y"]]


def test_exact_token_fill_yields_immediately():
    p = packing.Packer(max_tokens=100, max_tiles=48)
    p.add("a", 60, 1)
    assert refs(p.add("b", 40, 1)) == [["a", "b"]]
    assert p.buffers == []


def test_exact_tile_fill_yields_only_at_front():
    p = packing.Packer(max_tokens=1000, max_tiles=10)
    p.add("a", 10, 6)
    assert refs(p.add("b", 10, 4)) == [["a", "b"]]
    p.add("c", 10, 9)
    p.add("d", 995, 1)  # does not fit c (tokens) -> new buffer with 1 tile
    assert refs(p.add("e", 5, 1)) == [["c", "e"]]  # c+e = 10 tiles, first in the list


def test_too_many_buffers_yields_the_first():
    p = packing.Packer(max_tokens=10, max_tiles=48, max_buffers=2)
    p.add("a", 9, 3)
    p.add("b", 9, 1)
    out = p.add("c", 9, 2)  # third buffer -> the one with most tiles leaves
    assert refs(out) == [["a"]]
    assert refs(p.flush()) == [["c"], ["b"]]


def test_oversize_sample_is_an_error():
    p = packing.Packer(max_tokens=10, max_tiles=4)
    with pytest.raises(ValueError, match="sample 'big' has 11 tokens"):
        p.add("big", 11, 1)
    with pytest.raises(ValueError, match="5 tiles"):
        p.add("wide", 1, 5)


def test_state_dict_resume_continues_identically():
    items = [(f"s{i}", (i * 37) % 90 + 5, (i * 7) % 5 + 1) for i in range(60)]

    def run(packer, seq):
        out = []
        for ref, tok, til in seq:
            out += refs(packer.add(ref, tok, til))
        return out

    full = packing.Packer(100, 12, 4)
    expected = run(full, items) + refs(full.flush())
    first = packing.Packer(100, 12, 4)
    head = run(first, items[:25])
    resumed = packing.Packer(100, 12, 4)
    resumed.load_state_dict(first.state_dict())
    assert head + run(resumed, items[25:]) + refs(resumed.flush()) == expected


def sample(n_tokens, n_supervised, tiles, sid, image_token=3):
    ids = torch.arange(10, 10 + n_tokens)
    ids[:tiles] = image_token
    labels = torch.full((n_tokens,), IGNORE_INDEX)
    labels[-n_supervised:] = ids[-n_supervised:]
    return {"id": sid, "input_ids": ids, "labels": labels,
            "position_ids": torch.arange(n_tokens),
            "pixel_values": torch.full((tiles, 3, 4, 4), float(sid)),
            "image_flags": torch.ones(tiles, dtype=torch.long), "num_tiles": tiles}


def test_concat_samples_positions_weights_and_pixel_order():
    row = packing.concat_samples([sample(6, 4, 2, 0), sample(5, 1, 1, 1)], "square")
    assert row["position_ids"].tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4]
    assert row["sample_lengths"] == [6, 5]
    assert row["loss_weight"].tolist() == [0, 0, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 1.0]
    assert row["pixel_values"][:, 0, 0, 0].tolist() == [0, 0, 1]


def test_square_loss_packed_equals_separate():
    torch.manual_seed(0)
    samples = [sample(6, 4, 2, 0), sample(5, 1, 1, 1), sample(7, 3, 0, 2)]
    losses = [torch.rand(len(s["input_ids"])) for s in samples]
    row = packing.concat_samples(samples, "square")
    packed = (row["loss_weight"] * torch.cat(losses)).sum() / row["loss_weight"].sum()
    num = sum((packing.loss_weights(s["labels"], "square") * lo).sum()
              for s, lo in zip(samples, losses, strict=True))
    den = sum(math.sqrt(n) for n in (4, 1, 3))
    assert torch.allclose(packed, num / den)


def test_block_diagonal_mask():
    mask = packing.block_diagonal_causal_mask([2, 3], total=6)
    assert mask.shape == (1, 1, 6, 6)
    allowed = (mask[0, 0] == 0).int().tolist()
    assert allowed == [[1, 0, 0, 0, 0, 0],
                       [1, 1, 0, 0, 0, 0],
                       [0, 0, 1, 0, 0, 0],
                       [0, 0, 1, 1, 0, 0],
                       [0, 0, 1, 1, 1, 0],
                       [0, 0, 0, 0, 0, 1]]
    assert mask.min() == torch.finfo(torch.float32).min


def test_collate_padded_pads_to_longest():
    batch = packing.collate_padded([sample(6, 2, 1, 0), sample(9, 3, 2, 1)], pad_token_id=0)
    assert batch["input_ids"].shape == (2, 9)
    assert batch["attention_mask"][0].tolist() == [1] * 6 + [0] * 3
    assert (batch["labels"][0, 6:] == IGNORE_INDEX).all()
    assert batch["pixel_values"].shape[0] == 3
    assert packing.padding_stats(batch)["useful"] == 15
    assert packing.padding_stats(batch)["samples"] == 2


def test_collate_packed():
    rows = [packing.concat_samples([sample(6, 2, 1, 0), sample(4, 2, 1, 1)], "square"),
            packing.concat_samples([sample(7, 2, 1, 2)], "square")]
    batch = packing.collate_packed(rows, pad_token_id=0)
    assert batch["input_ids"].shape == (2, 10)
    assert batch["attention_mask"].shape == (2, 1, 10, 10)
    assert batch["loss_weight"].dtype == torch.float32
    assert packing.padding_stats(batch) == {"samples": 3, "tokens": 20, "useful": 17,
                                            "padding_ratio": pytest.approx(0.15)}


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, n, base, tiles):
        self.samples = [sample(5 + (i % 4), 2, tiles, base + i) for i in range(n)]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def test_packed_dataset_covers_each_sample_once_per_shard_union():
    datasets = [ListDataset(23, 0, 1), ListDataset(11, 100, 2)]
    seen = []
    for rank in range(2):
        ds = PackedDataset(datasets, max_tokens=30, max_tiles=6, rank=rank, world_size=2)
        rows = list(ds)
        for row in rows:
            assert len(row["input_ids"]) <= 30 and len(row["pixel_values"]) <= 6
        seen += [i for row in rows for i in row["ids"]]
    assert sorted(seen) == sorted(list(range(23)) + list(range(100, 111)))
    a = [r["ids"] for r in PackedDataset(datasets, max_tokens=30, max_tiles=6, seed=1)]
    b = [r["ids"] for r in PackedDataset(datasets, max_tokens=30, max_tiles=6, seed=1)]
    assert a == b


def test_packed_dataset_in_worker_processes():
    datasets = [ListDataset(20, 0, 1)]
    ds = PackedDataset(datasets, max_tokens=40, max_tiles=8)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    ids = sorted(i for row in loader for i in row["ids"])
    assert ids == list(range(20))
