"""The packed stream: the reference's order (exhaustion included), passes, workers, resume."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from internvl_da.data.stream import (
    PackedDataset,
    PackedStream,
    WorkerStreams,
    resume_state,
)
from internvl_da.data.tokens import IGNORE_INDEX


def sample(n_tokens, tiles, sid):
    ids = torch.arange(n_tokens) + 10
    labels = ids.clone()
    labels[: n_tokens // 2] = IGNORE_INDEX
    return {"id": sid, "input_ids": ids, "labels": labels, "position_ids": torch.arange(n_tokens),
            "pixel_values": torch.zeros(tiles, 3, 2, 2), "num_tiles": tiles,
            "image_flags": torch.ones(tiles, dtype=torch.long)}


class Items(torch.utils.data.Dataset):
    """(id, tokens, tiles) items; counts builds and records the epoch each one was built in."""

    def __init__(self, items):
        self.items, self.built, self.epoch, self.epochs = items, 0, 0, {}

    def __len__(self):
        return len(self.items)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __getitem__(self, i):
        self.built += 1
        sid, tokens, tiles = self.items[i]
        self.epochs.setdefault(self.epoch, []).append(sid)
        return sample(tokens, tiles, sid)


def mix(sizes, seed=0):
    """Datasets of the given sizes with random lengths and tile counts (ids 1000*k + i)."""
    rng = random.Random(seed)
    return [Items([(1000 * k + i, rng.randint(4, 30), rng.randint(1, 6)) for i in range(n)])
            for k, n in enumerate(sizes)]


def reference_pass(datasets, g, shards, max_tokens, max_tiles, max_buffers=20):
    """The reference loop transcribed from its facts (spec training.md §14-§15.1;
    `dataset_packed.py`, `PackedDataset.__iter__`, `next_data`, `find_buffer`,
    `update_buffer_list`), independent of internvl_da's Packer. Draws the exhaustion fallback
    from the GLOBAL NumPy generator, which the caller seeds as the launcher's set_seed does.
    Returns (packs as id lists, number of fallback draws)."""
    lengths = [len(d) for d in datasets]
    weights = [n / sum(lengths) for n in lengths]
    iters = [iter(d.items[g::shards]) for d in datasets]
    rng = np.random.default_rng(seed=g)
    buffers, out, fallbacks = [], [], 0
    while True:
        weights = [w / sum(weights) for w in weights]
        idx = rng.choice(len(iters), p=weights)
        item = None
        while item is None:
            try:
                item = next(iters[idx])
            except StopIteration:
                iters.pop(idx)
                weights.pop(idx)
                if not iters:
                    return out + [b["ids"] for b in buffers], fallbacks
                idx = np.random.choice(len(iters))
                fallbacks += 1
        sid, tokens, tiles = item
        found = None
        for k, b in enumerate(buffers):
            if b["tiles"] + tiles <= max_tiles and b["tokens"] + tokens <= max_tokens:
                found = buffers.pop(k)
                break
        buf = found or {"ids": [], "tokens": 0, "tiles": 0}
        buf = {"ids": buf["ids"] + [sid], "tokens": buf["tokens"] + tokens,
               "tiles": buf["tiles"] + tiles}
        if buf["tokens"] >= max_tokens:
            out.append(buf["ids"])
        else:
            at = next((k for k, b in enumerate(buffers) if b["tiles"] < buf["tiles"]),
                      len(buffers))
            buffers.insert(at, buf)
        while buffers and buffers[0]["tiles"] == max_tiles:
            out.append(buffers.pop(0)["ids"])
        while len(buffers) > max_buffers:
            out.append(buffers.pop(0)["ids"])


def ids(rows):
    return [row["ids"] for row in rows]


@pytest.mark.parametrize("sizes", [[40], [30, 7], [25, 3, 12], [17, 9, 30, 5], [11, 2, 23, 8, 14]])
@pytest.mark.parametrize("g,shards", [(0, 1), (2, 3)])
def test_packed_order_matches_reference_loop_with_exhaustion_1_to_5_datasets(sizes, g, shards):
    """Regression (issue 10): the order diverged from the reference once a dataset was
    exhausted with 3+ datasets (pack 7 of 38 on a 4-dataset mix): exhausted datasets were
    dropped at once instead of when drawn, and no draw came from the global NumPy generator."""
    datasets = mix(sizes)
    np.random.seed(42)  # the reference launcher: set_seed(42), never reset between passes
    first, fallbacks = reference_pass(datasets, g, shards, 40, 8, max_buffers=3)
    second, _ = reference_pass(datasets, g, shards, 40, 8, max_buffers=3)
    stream = PackedStream(datasets, max_tokens=40, max_tiles=8, max_buffers=3, shard=g,
                          shards=shards, fallback_seed=42)
    assert ids(stream.one_pass()) == first
    assert ids(next(stream) for _ in range(len(second))) == second
    assert stream.pass_number == 1
    assert (fallbacks > 0) == (len(sizes) > 1)  # the fallback path is exercised


def test_passes_draw_new_augmentation_epochs():
    datasets = mix([6, 4])
    stream = PackedStream(datasets, max_tokens=40, max_tiles=8)
    first = ids(stream.one_pass())
    rest = ids(next(stream) for _ in range(len(first)))
    for d in datasets:  # every sample of pass n is built with epoch n
        assert sorted(d.epochs[0]) == sorted(d.epochs[1]) == sorted(s for s, _, _ in d.items)
    assert sorted(i for p in first for i in p) == sorted(i for p in rest for i in p)


def test_resume_from_state_continues_identically_without_replay():
    full = PackedStream(mix([17, 9, 5]), max_tokens=40, max_tiles=8, shard=1, shards=2)
    expected = ids(next(full) for _ in range(30))  # crosses into the second pass
    head = PackedStream(mix([17, 9, 5]), max_tokens=40, max_tiles=8, shard=1, shards=2)
    first = ids(next(head) for _ in range(11))
    state = json.loads(json.dumps(head.state_dict()))  # what a checkpoint stores
    fresh = mix([17, 9, 5])
    resumed = PackedStream(fresh, max_tokens=40, max_tiles=8, shard=1, shards=2)
    resumed.load_state_dict(state)
    rest = ids(next(resumed) for _ in range(19))
    assert first + rest == expected
    # Nothing before the saved position is rebuilt: exactly the samples yielded since, and
    # those still waiting in the open buffers or in packs ready to go.
    waiting = sum(len(b.refs) for b in resumed.packer.buffers) + sum(map(len, resumed.ready))
    assert sum(d.built for d in fresh) == sum(len(r) for r in rest) + waiting
    with pytest.raises(ValueError, match="shard 1/2 cannot resume shard 0/2"):
        PackedStream(mix([17, 9, 5]), shard=0, shards=2).load_state_dict(state)


def test_packed_dataset_is_one_pass_of_the_stream():
    datasets = mix([12, 5])
    np.random.seed(0)
    reference, _ = reference_pass(datasets, 1, 2, 40, 8)
    assert ids(PackedDataset(datasets, max_tokens=40, max_tiles=8, rank=1, world_size=2)) == \
        reference


def loader(stream, workers):
    return torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers)


def test_workers_shard_per_global_worker_and_interleave_round_robin():
    """Paper profile (spec §14): worker w of rank r is global worker r * W + w of world * W,
    with its own packer generators; the DataLoader takes one row per worker in turn."""
    datasets = mix([30, 12, 7])
    streams = [PackedStream(datasets, max_tokens=40, max_tiles=8, shard=g, shards=4,
                            fallback_seed=[5, g]) for g in (2, 3)]  # rank 1 of 2, 2 workers
    expected = [next(streams[k % 2])["ids"] for k in range(16)]
    got = []
    for row in loader(WorkerStreams(datasets, max_tokens=40, max_tiles=8, rank=1, world_size=2,
                                    workers=2, seed=5), 2):
        got.append(row["ids"])
        assert row["stream_state"]["shard"] in (2, 3)
        if len(got) == 16:
            break
    assert got == expected


@pytest.mark.parametrize("workers,consumed", [(0, 7), (2, 7), (2, 8)])
def test_worker_streams_resume_in_o1_at_the_next_row(workers, consumed):
    """Resume keeps the order with and without workers: each shard continues from its last
    consumed state and the round-robin restarts at the shard after the last consumed one."""
    datasets = mix([30, 12, 7])
    make = dict(max_tokens=40, max_tiles=8, rank=0, world_size=1, workers=workers, seed=3)
    expected = []
    for row in loader(WorkerStreams(datasets, **make), workers):
        expected.append(row["ids"])
        if len(expected) == consumed + 9:
            break
    tags, last = {}, None
    for n, row in enumerate(loader(WorkerStreams(datasets, **make), workers), 1):
        last = row["stream_state"]["shard"]
        tags[last] = row["stream_state"]["state"]
        if n == consumed:
            break
    state = json.loads(json.dumps(resume_state(tags, last, 0, 1, workers)))
    rest = []
    for row in loader(WorkerStreams(mix([30, 12, 7]), **make, resume=state), workers):
        rest.append(row["ids"])
        if len(rest) == 9:
            break
    assert rest == expected[consumed:]
    with pytest.raises(ValueError, match="with 4 DataLoader workers"):
        WorkerStreams(datasets, **make, resume={**state, "workers": 4})
