"""The endless packed stream: reference order per pass, and O(1) resume from its state."""

from __future__ import annotations

import json

import numpy as np
import torch

from internvl_da.data.packing import Packer
from internvl_da.data.stream import PackedDataset, PackedStream
from internvl_da.data.tokens import IGNORE_INDEX


def sample(n_tokens, tiles, sid):
    ids = torch.arange(n_tokens) + 10
    labels = ids.clone()
    labels[: n_tokens // 2] = IGNORE_INDEX
    return {"id": sid, "input_ids": ids, "labels": labels, "position_ids": torch.arange(n_tokens),
            "pixel_values": torch.zeros(tiles, 3, 2, 2), "num_tiles": tiles,
            "image_flags": torch.ones(tiles, dtype=torch.long)}


class Counting(torch.utils.data.Dataset):
    """Counts how many samples were built (resume must not replay the stream)."""

    def __init__(self, n, base, tiles):
        self.n, self.base, self.tiles, self.built = n, base, tiles, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.built += 1
        return sample(5 + (i * 7) % 13, self.tiles + i % 2, self.base + i)


def datasets():
    return [Counting(17, 0, 1), Counting(9, 100, 3)]


def ids(rows):
    return [row["ids"] for row in rows]


def reference_pass(dsets, max_tokens, max_tiles, shard=0, shards=1, seed=0):
    """The reference `PackedDataset.__iter__` written out: draw a dataset with probability
    proportional to its length from default_rng(seed + shard), pack, flush at the end."""
    rng = np.random.default_rng(seed=seed + shard)
    lines = [list(range(shard, len(d), shards)) for d in dsets]
    cursors, active = [0] * len(lines), [k for k, line in enumerate(lines) if line]
    packer, rows = Packer(max_tokens, max_tiles, 20), []
    while active:
        weights = np.array([len(dsets[k]) for k in active], dtype=np.float64)
        k = active[int(rng.choice(len(active), p=weights / weights.sum()))]
        i = lines[k][cursors[k]]
        cursors[k] += 1
        if cursors[k] == len(lines[k]):
            active.remove(k)
        item = dsets[k][i]
        rows += [b.refs for b in packer.add((k, i), len(item["input_ids"]), item["num_tiles"])]
    rows += [b.refs for b in packer.flush()]
    return [[dsets[k][i]["id"] for k, i in refs] for refs in rows]


def test_first_pass_matches_the_reference_order_and_passes_repeat():
    reference = reference_pass(datasets(), 40, 8)
    assert ids(PackedDataset(datasets(), max_tokens=40, max_tiles=8)) == reference
    assert ids(PackedDataset(datasets(), max_tokens=40, max_tiles=8, rank=1, world_size=2)) == \
        reference_pass(datasets(), 40, 8, shard=1, shards=2)
    stream = PackedStream(datasets(), max_tokens=40, max_tiles=8)
    first = ids(next(stream) for _ in range(len(reference)))
    second = ids(next(stream) for _ in range(len(reference)))
    assert first == reference and second == reference
    assert stream.pass_number == 1


def test_resume_from_state_continues_identically_without_replay():
    full = PackedStream(datasets(), max_tokens=40, max_tiles=8, rank=1, world_size=2)
    expected = ids(next(full) for _ in range(25))
    head = PackedStream(datasets(), max_tokens=40, max_tiles=8, rank=1, world_size=2)
    first = ids(next(head) for _ in range(11))
    state = json.loads(json.dumps(head.state_dict()))  # what a checkpoint stores
    fresh = datasets()
    resumed = PackedStream(fresh, max_tokens=40, max_tiles=8, rank=1, world_size=2)
    resumed.load_state_dict(state)
    rest = ids(next(resumed) for _ in range(14))
    assert first + rest == expected
    # Nothing before the saved position is rebuilt: exactly the samples of the later rows.
    assert sum(d.built for d in fresh) == sum(len(r) for r in rest)
