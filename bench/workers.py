"""DataLoader workers for the packed stream: throughput, start-up and resume, in one run.

The paper profile runs the reference's 8 workers per GPU, each the packed stream of one global
worker (spec training.md §14); the tiny profile runs the stream in the training process. This
measures, on recipe geometry (1600x900 JPEGs -> 9 tiles + thumbnail of 448 px, 256 tokens per
tile, packs of 16384 tokens / 48 tiles, one dataset with JPEG augmentation):

1. packs/s of the data pipeline alone with 0, 1 and 2 workers (ratio to 0 workers), and the
   time to the first pack (filling the packer's buffers; each pack of 48 tiles at 448 px is
   115 MB of float32 pixels, which workers hand over through shared memory);
2. resume: time to the next pack from a saved stream state (O(1)) vs replaying the packs
   consumed so far (what a stream without state would do).

Ratios, not absolute numbers, carry over between machines; each worker is one more process
doing CPU preprocessing, so the gain is bounded by the free cores (os.cpu_count() printed).

    .venv/bin/python bench/workers.py [--packs 10] [--images 48] [--workers 0 1 2 4 8]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from internvl_da.data.dataset import SampleSettings, build_datasets
from internvl_da.data.formats import load_meta
from internvl_da.data.packing import collate_packed
from internvl_da.data.stream import WorkerStreams, resume_state
from internvl_da.model.tiny import build_tiny_tokenizer


def write_data(root: Path, images: int) -> Path:
    """Two datasets of 1600x900 JPEGs (noise, so JPEG work is realistic); b is augmented."""
    rng = np.random.default_rng(0)
    (root / "img").mkdir(parents=True)
    rows = []
    for i in range(images):
        pixels = rng.integers(0, 255, (900, 1600, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "img" / f"{i}.jpg", quality=90)
        answer = " ".join(["word"] * int(rng.integers(5, 60)))
        rows.append({"id": i, "image": f"{i}.jpg", "conversations": [
            {"from": "human", "value": "Describe the scene."}, {"from": "gpt", "value": answer}]})
    half = len(rows) // 2
    meta = {}
    for name, part, augment in (("a", rows[:half], False), ("b", rows[half:], True)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
        meta[name] = {"root": str(root / "img"), "annotation": str(root / f"{name}.jsonl"),
                      "data_augment": augment, "repeat_time": 1}
    (root / "meta.json").write_text(json.dumps(meta))
    return root / "meta.json"


def make_loader(datasets, pad_id: int, workers: int, resume: dict | None = None):
    stream = WorkerStreams(datasets, max_tokens=16384, max_tiles=48, workers=workers, seed=0,
                           resume=resume)
    return torch.utils.data.DataLoader(stream, batch_size=1, num_workers=workers,
                                       collate_fn=partial(collate_packed, pad_token_id=pad_id))


def time_packs(loader, packs: int) -> tuple[float, float, list]:
    """(seconds to the first pack, packs/s after it, the stream tags seen)."""
    start, first, tags = time.perf_counter(), None, []
    for n, batch in enumerate(loader, 1):
        tags.append(batch["stream_state"])
        if first is None:
            first = time.perf_counter()
        if n == packs + 1:
            break
    return first - start, packs / (time.perf_counter() - first), tags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", type=int, default=10)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2],
                        help="worker counts to compare (the first is the baseline)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tok = build_tiny_tokenizer("qwen2")
    settings = SampleSettings(template="Hermes-2")  # recipe geometry: 448 px, 256 tokens/tile
    with tempfile.TemporaryDirectory() as tmp:
        meta = write_data(Path(tmp), args.images)
        datasets = build_datasets(load_meta(meta), tok, settings, shuffle=True)
        print(f"{os.cpu_count()} CPUs; {args.packs} packs timed after the first")
        rates = {}
        for workers in args.workers:
            startup, rate, _ = time_packs(make_loader(datasets, tok.pad_token_id, workers),
                                          args.packs)
            rates[workers] = rate
            base = args.workers[0]
            print(f"workers={workers}: first pack after {startup:5.2f} s, {rate:5.2f} packs/s "
                  f"(x{rate / rates[base]:.2f} of {base} workers)")
        consumed = args.packs
        _, _, tags = time_packs(make_loader(datasets, tok.pad_token_id, 0), consumed - 1)
        state = json.loads(json.dumps(resume_state(
            {t["shard"]: t["state"] for t in tags[:consumed]}, tags[consumed - 1]["shard"],
            0, 1, 0)))
        start = time.perf_counter()
        next(iter(make_loader(datasets, tok.pad_token_id, 0, resume=state)))
        resumed = time.perf_counter() - start
        start = time.perf_counter()
        for n, _ in enumerate(make_loader(datasets, tok.pad_token_id, 0), 1):
            if n == consumed + 1:
                break
        replayed = time.perf_counter() - start
        print(f"resume after {consumed} packs: next pack in {resumed:.2f} s from the saved "
              f"state vs {replayed:.2f} s replaying (x{replayed / resumed:.1f}); the replay "
              f"grows with the packs consumed, the resume does not")


if __name__ == "__main__":
    main()
