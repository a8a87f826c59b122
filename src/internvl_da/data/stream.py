"""The endless packed training stream with O(1) resume.

Same order as `PackedDataset` (reference `dataset_packed.py`: per-(rank, worker) shards, dataset
drawn with probability proportional to its length, every dataset exhausted once per pass, the
next pass in the same order), but the position is explicit state: pass number, per-dataset
cursors, the generator's state, the open packer buffers and the packs ready to go. Saving that
state with a checkpoint lets a resumed run continue at the next pack without replaying the
stream; buffered samples are rebuilt from their (dataset, index) references.

Stateful iteration needs the stream in the training process (`num_workers=0`); with worker
processes the Trainer's replay of the first batches is used instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from internvl_da.data.packing import Packer, concat_samples, len2weight


class PackedStream(torch.utils.data.IterableDataset):
    def __init__(self, datasets: Sequence, reduction: str = "square", max_tokens: int = 16384,
                 max_tiles: int = 48, max_buffers: int = 20, rank: int = 0,
                 world_size: int = 1, seed: int = 0) -> None:
        super().__init__()
        len2weight(1, reduction)  # validates the name early
        self.datasets = list(datasets)
        self.reduction = reduction
        self.packer = Packer(max_tokens, max_tiles, max_buffers)
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.shards = [list(range(rank, len(ds), world_size)) for ds in self.datasets]
        self._cache: dict[tuple[int, int], dict] = {}
        self._start_pass(0)

    def _start_pass(self, number: int) -> None:
        self.pass_number = number
        self.cursors = [0] * len(self.shards)
        self.active = [k for k, shard in enumerate(self.shards) if shard]
        self.rng = np.random.default_rng(seed=self.seed + self.rank)
        self.ready: list[list[tuple[int, int]]] = []

    def __iter__(self):
        return self

    def _next_ref(self) -> tuple[int, int]:
        weights = np.array([len(self.datasets[k]) for k in self.active], dtype=np.float64)
        k = self.active[int(self.rng.choice(len(self.active), p=weights / weights.sum()))]
        ref = (k, self.shards[k][self.cursors[k]])
        self.cursors[k] += 1
        if self.cursors[k] == len(self.shards[k]):
            self.active.remove(k)
        return ref

    def _sample(self, ref: tuple[int, int]) -> dict:
        if ref not in self._cache:
            self._cache[ref] = self.datasets[ref[0]][ref[1]]
        return self._cache[ref]

    def one_pass(self) -> Iterator[dict]:
        """The packs of the current pass (all of them when the stream is fresh)."""
        while self.active or self.ready or self.packer.buffers:
            yield next(self)

    def __next__(self) -> dict:
        if not any(self.shards):
            raise ValueError(f"shard {self.rank} of {self.world_size} has no training sample")
        while not self.ready:
            if self.active:
                ref = self._next_ref()
                sample = self._sample(ref)
                added = self.packer.add(ref, len(sample["input_ids"]), sample["num_tiles"])
                self.ready = [b.refs for b in added]
            elif self.packer.buffers:
                self.ready = [b.refs for b in self.packer.flush()]  # end of the pass
            else:
                self._start_pass(self.pass_number + 1)  # the same order again
        refs = self.ready.pop(0)
        row = concat_samples([self._sample(r) for r in refs], self.reduction)
        for r in refs:
            self._cache.pop(r, None)
        return row

    def state_dict(self) -> dict:
        """Everything needed to continue at the next pack (JSON-serialisable)."""
        bit_state = self.rng.bit_generator.state
        return {"pass": self.pass_number, "cursors": list(self.cursors),
                "active": list(self.active), "rng": _jsonable(bit_state),
                "packer": {"buffers": [[[list(r) for r in refs], t, n]
                                       for refs, t, n in self.packer.state_dict()["buffers"]]},
                "ready": [[list(r) for r in refs] for refs in self.ready],
                "rank": self.rank, "world_size": self.world_size}

    def load_state_dict(self, state: dict) -> None:
        if (state["rank"], state["world_size"]) != (self.rank, self.world_size):
            raise ValueError(f"stream state of rank {state['rank']}/{state['world_size']} "
                             f"cannot resume rank {self.rank}/{self.world_size}")
        self._start_pass(state["pass"])
        self.cursors, self.active = list(state["cursors"]), list(state["active"])
        self.rng.bit_generator.state = state["rng"]
        self.packer.load_state_dict({"buffers": [([tuple(r) for r in refs], t, n)
                                                 for refs, t, n in state["packer"]["buffers"]]})
        self.ready = [[tuple(r) for r in refs] for refs in state["ready"]]
        self._cache.clear()


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    return value


class PackedDataset(torch.utils.data.IterableDataset):
    """One pass of packed rows, sharded per (rank, DataLoader worker) as the reference (§14):
    global worker g = rank * workers + worker id takes lines[g::G] of every dataset and draws
    datasets from `np.random.default_rng(seed + g)`. Iterating again gives the same pass."""

    def __init__(self, datasets: Sequence, reduction: str = "square", max_tokens: int = 16384,
                 max_tiles: int = 48, max_buffers: int = 20, rank: int = 0, world_size: int = 1,
                 seed: int = 0) -> None:
        super().__init__()
        len2weight(1, reduction)  # validates the name early
        self.datasets = list(datasets)
        self.options = (reduction, max_tokens, max_tiles, max_buffers)
        self.rank, self.world_size, self.seed = rank, world_size, seed

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        workers, worker_id = (info.num_workers, info.id) if info else (1, 0)
        shard = self.rank * workers + worker_id
        stream = PackedStream(self.datasets, *self.options, rank=shard,
                              world_size=self.world_size * workers, seed=self.seed)
        return stream.one_pass()
