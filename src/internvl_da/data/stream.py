"""The packed training stream: the reference's order, per global worker, with O(1) resume.

Order (reference `internvl_chat/internvl/train/dataset_packed.py`, `PackedDataset.__iter__` and
`next_data`; spec training.md §14–§15), for global worker g of G (g = rank * workers + worker):
- dataset k yields lines[g::G] of its once-shuffled line list; its weight is len(dataset) /
  total (the full length, not the shard's), as Python floats renormalised before every draw;
- every draw picks a position with `np.random.default_rng(seed=g).choice(n, p=weights)`, the
  generator made afresh at the start of each pass (so every pass starts in the same order);
- an exhausted dataset is noticed only when it is drawn: it is then removed (with its weight)
  and the next position is drawn UNIFORMLY from the global NumPy generator
  (`np.random.choice(n)`), again until a dataset still has a sample; when none is left the
  open buffers are flushed and the pass ends.
The reference's global NumPy generator is seeded by `set_seed(seed)` in the launcher (0
DataLoader workers: the same state on every rank, never reset between passes) or by torch's
worker loop from a random base seed (workers: not reproducible). Here it is a private
`RandomState`: `RandomState(seed)` without workers — the reference's draws exactly — and
`RandomState([seed, g])` per worker otherwise, kept across passes in both cases.

Each pass sets the pass number as the datasets' epoch before a sample is built, so JPEG
augmentation is drawn anew every pass, deterministically from (seed, dataset, pass, line).
The position is explicit, JSON-serialisable state (pass, cursors, remaining datasets and
weights, both generators, open buffers, packs ready); buffered samples are rebuilt from their
(dataset, index) references, so resuming costs O(buffered samples), never a replay.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from internvl_da.data.packing import Packer, concat_samples, len2weight

Ref = tuple[int, int]  # (dataset index, index into that dataset)


def reference_weights(datasets: Sequence) -> list[float]:
    """Sampling weights as the reference's build_datasets: len / total, Python floats."""
    lengths = [len(d) for d in datasets]
    total = sum(lengths)
    return [n / total for n in lengths]


class PackedStream(torch.utils.data.IterableDataset):
    """The endless packed stream of global worker `shard` of `shards`."""

    def __init__(self, datasets: Sequence, reduction: str = "square", max_tokens: int = 16384,
                 max_tiles: int = 48, max_buffers: int = 20, shard: int = 0, shards: int = 1,
                 seed: int = 0, fallback_seed: int | list[int] = 0) -> None:
        super().__init__()
        len2weight(1, reduction)  # validates the name early
        if not 0 <= shard < shards:
            raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
        self.datasets = list(datasets)
        self.reduction = reduction
        self.packer = Packer(max_tokens, max_tiles, max_buffers)
        self.shard, self.shards, self.seed = shard, shards, seed
        self.weights0 = reference_weights(self.datasets)
        self.lines = [range(shard, len(ds), shards) for ds in self.datasets]
        if not any(len(r) for r in self.lines):
            raise ValueError(f"shard {shard} of {shards} has no training sample (datasets of "
                             f"{[len(d) for d in self.datasets]} samples)")
        self.fallback = np.random.RandomState(fallback_seed)
        self._cache: dict[Ref, dict] = {}
        self._start_pass(0)

    def _start_pass(self, number: int) -> None:
        self.pass_number = number
        self.cursors = [0] * len(self.datasets)
        self.active = list(range(len(self.datasets)))  # reference: self.datasets, in order
        self.weights = list(self.weights0)
        self.rng = np.random.default_rng(seed=self.seed + self.shard)
        self.ready: list[list[Ref]] = []

    def __iter__(self):
        return self

    def _next_ref(self) -> Ref | None:
        """The next (dataset, index) of this pass; None once every dataset is exhausted."""
        total = sum(self.weights)
        self.weights = [w / total for w in self.weights]
        pos = int(self.rng.choice(len(self.active), p=self.weights))
        while True:
            k = self.active[pos]
            if self.cursors[k] < len(self.lines[k]):
                ref = (k, self.lines[k][self.cursors[k]])
                self.cursors[k] += 1
                return ref
            del self.active[pos], self.weights[pos]  # noticed only now, as the reference
            if not self.active:
                return None
            pos = int(self.fallback.choice(len(self.active)))

    def _sample(self, ref: Ref) -> dict:
        if ref not in self._cache:
            dataset = self.datasets[ref[0]]
            if hasattr(dataset, "set_epoch"):  # augmentation drawn anew each pass
                dataset.set_epoch(self.pass_number)
            self._cache[ref] = dataset[ref[1]]
        return self._cache[ref]

    def _fill(self) -> bool:
        """Make packs of the current pass ready; False when the pass is over."""
        while not self.ready and self.active:
            ref = self._next_ref()
            if ref is None:
                self.ready = [b.refs for b in self.packer.flush()]  # end of the pass
                break
            sample = self._sample(ref)
            added = self.packer.add(ref, len(sample["input_ids"]), sample["num_tiles"])
            self.ready = [b.refs for b in added]
        return bool(self.ready)

    def _row(self) -> dict:
        refs = self.ready.pop(0)
        row = concat_samples([self._sample(r) for r in refs], self.reduction)
        for r in refs:
            self._cache.pop(r, None)
        return row

    def one_pass(self) -> Iterator[dict]:
        """The remaining packs of the current pass (all of them when the stream is fresh)."""
        while self._fill():
            yield self._row()

    def __next__(self) -> dict:
        if not self._fill():
            self._start_pass(self.pass_number + 1)  # the Trainer restarts the iterable
            self._fill()
        return self._row()

    def state_dict(self) -> dict:
        """Everything needed to continue at the next pack (JSON-serialisable)."""
        name, keys, pos, has_gauss, gauss = self.fallback.get_state()
        return {"pass": self.pass_number, "cursors": list(self.cursors),
                "active": list(self.active), "weights": list(self.weights),
                "rng": _jsonable(self.rng.bit_generator.state),
                "fallback": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
                "buffers": [[[list(r) for r in b.refs], b.tokens, b.tiles]
                            for b in self.packer.buffers],
                "ready": [[list(r) for r in refs] for refs in self.ready],
                "shard": self.shard, "shards": self.shards}

    def load_state_dict(self, state: dict) -> None:
        if (state["shard"], state["shards"]) != (self.shard, self.shards):
            raise ValueError(f"stream state of shard {state['shard']}/{state['shards']} "
                             f"cannot resume shard {self.shard}/{self.shards}")
        self._start_pass(state["pass"])
        self.cursors, self.active = list(state["cursors"]), list(state["active"])
        self.weights = [float(w) for w in state["weights"]]
        self.rng.bit_generator.state = state["rng"]
        name, keys, pos, has_gauss, gauss = state["fallback"]
        self.fallback.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
        self.packer.load_state_dict({"buffers": [([tuple(r) for r in refs], t, n)
                                                 for refs, t, n in state["buffers"]]})
        self.ready = [[tuple(r) for r in refs] for refs in state["ready"]]
        self._cache.clear()


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    return value


def fallback_seed(seed: int, shard: int, workers: int) -> int | list[int]:
    """The exhaustion fallback's seed: the launcher's `seed` without DataLoader workers (the
    reference's global NumPy state after set_seed), one seed per global worker with them."""
    return seed if workers == 0 else [seed, shard]


class WorkerStreams(torch.utils.data.IterableDataset):
    """The endless packed stream of every DataLoader worker of one rank (spec §14).

    With W workers (W = 1 when `workers` is 0), DataLoader worker w runs shard
    s = (w + first) % W of this rank, global worker g = rank * W + s of world_size * W.
    Each row carries `stream_state` = {shard g, its state after this row}; the Trainer keeps
    the last consumed state per shard and, on resume, `first` = the shard after the last
    consumed one, so the DataLoader's round-robin over workers continues in the same order.
    """

    def __init__(self, datasets: Sequence, reduction: str = "square", max_tokens: int = 16384,
                 max_tiles: int = 48, max_buffers: int = 20, rank: int = 0, world_size: int = 1,
                 workers: int = 0, seed: int = 0, resume: dict | None = None) -> None:
        super().__init__()
        self.datasets = list(datasets)
        self.options = (reduction, max_tokens, max_tiles, max_buffers)
        self.rank, self.world_size, self.workers, self.seed = rank, world_size, workers, seed
        self.per_rank = max(1, workers)
        self.first, self.states = 0, {}
        if resume is not None:
            check_resume(resume, rank, world_size, workers)
            self.first = resume["next"]
            self.states = {int(g): s for g, s in resume["shards"].items()}

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        worker = info.id if info else 0
        g = self.rank * self.per_rank + (worker + self.first) % self.per_rank
        stream = PackedStream(self.datasets, *self.options, shard=g,
                              shards=self.world_size * self.per_rank,
                              fallback_seed=fallback_seed(self.seed, g, self.workers))
        if g in self.states:
            stream.load_state_dict(self.states[g])
        while True:
            row = next(stream)
            row["stream_state"] = {"shard": g, "state": stream.state_dict()}
            yield row


def check_resume(resume: dict, rank: int, world_size: int, workers: int) -> None:
    """A saved stream position fits only the same rank, world size and worker count."""
    saved = (resume["rank"], resume["world_size"], resume["workers"])
    if saved != (rank, world_size, workers):
        raise ValueError(f"the checkpoint's stream was saved by rank {saved[0]} of {saved[1]} "
                         f"with {saved[2]} DataLoader workers; this run is rank {rank} of "
                         f"{world_size} with {workers} (the shard of every worker depends on "
                         f"all three: resume with the same num_workers and GPU count)")


def resume_state(tags: dict[int, dict], last: int | None, rank: int, world_size: int,
                 workers: int) -> dict:
    """The file a checkpoint stores per rank: the last consumed state of every shard."""
    per_rank = max(1, workers)
    following = 0 if last is None else (last - rank * per_rank + 1) % per_rank
    return {"rank": rank, "world_size": world_size, "workers": workers, "next": following,
            "shards": {str(g): s for g, s in sorted(tags.items())}}


class PackedDataset(torch.utils.data.IterableDataset):
    """One pass of packed rows for the benches: the same shards and order as the training
    stream (global worker g = rank * workers + worker id of world_size * workers)."""

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
        g = self.rank * workers + worker_id
        stream = PackedStream(self.datasets, *self.options, shard=g,
                              shards=self.world_size * workers,
                              fallback_seed=fallback_seed(self.seed, g, 0 if not info else 1))
        return stream.one_pass()
