"""Memory and time of the byte-offset JSONL index on a 500k-line, ~400 MB file.

Prints the RSS growth while building `JsonlIndex`, the build time and random-access cost.

    .venv/bin/python bench/jsonl_index.py [--lines 500000]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import tempfile
import time
from pathlib import Path

import psutil

from internvl_da.data.formats import JsonlIndex


def write_file(path: Path, lines: int) -> None:
    rng = random.Random(0)
    answer = "There is a red car to the front of the ego vehicle <c1,CAM_FRONT,[512,250]>. " * 10
    with open(path, "w", encoding="utf-8") as out:
        for i in range(lines):
            row = {"id": f"sample_{i}", "image": f"images/{rng.randrange(10**8):08d}.jpg",
                   "conversations": [
                       {"from": "human", "value": "<image>\nWhat are the important objects? "
                                                  f"Frame {i}."},
                       {"from": "gpt", "value": answer[: rng.randrange(420, 800)]}]}
            out.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=500_000)
    args = parser.parse_args()
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.jsonl"
        write_file(path, args.lines)
        size_mb = path.stat().st_size / 2**20
        gc.collect()
        before = proc.memory_info().rss
        start = time.perf_counter()
        index = JsonlIndex(path)
        build = time.perf_counter() - start
        grown = (proc.memory_info().rss - before) / 2**20
        rng = random.Random(1)
        picks = [rng.randrange(len(index)) for _ in range(20_000)]
        start = time.perf_counter()
        for i in picks:
            index[i]
        access_us = (time.perf_counter() - start) / len(picks) * 1e6
        print(f"file: {len(index)} lines, {size_mb:.0f} MiB")
        print(f"index build: {build:.2f} s, RSS growth {grown:.1f} MiB "
              f"({grown / size_mb * 100:.1f}% of the file), limit 64 MiB")
        print(f"random access + JSON parse: {access_us:.1f} us/record")


if __name__ == "__main__":
    main()
