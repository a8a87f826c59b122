"""Memory and time of the byte-offset JSONL index on a 500k-line, ~400 MB file.

Writes a synthetic InternVL JSONL (DriveLM-like conversation lines) to a temp dir, then prints
the RSS growth (after the build, and the peak while building) and build time of `JsonlIndex`,
and the cost of random access (raw bytes, and bytes + JSON parse). Target: < 64 MiB growth.

    .venv/bin/python bench/jsonl_index.py [--lines 500000]
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import random
import resource
import tempfile
import time
from pathlib import Path

import psutil

from internvl_da.data.formats import JsonlIndex


def write_file(path: Path, lines: int) -> None:
    """~800 bytes a line: a stitched-frame question and a 420-800 character answer."""
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


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _access_us(index: JsonlIndex, parse: bool, count: int = 20_000) -> float:
    rng = random.Random(1)
    picks = [rng.randrange(len(index)) for _ in range(count)]
    get = index.__getitem__ if parse else index.raw
    start = time.perf_counter()
    for i in picks:
        get(i)
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=500_000)
    args = parser.parse_args()
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.jsonl"
        writer = multiprocessing.Process(target=write_file, args=(path, args.lines))
        writer.start()  # in a child, so this process's peak RSS is the index's alone
        writer.join()
        size_mb = path.stat().st_size / 2**20
        gc.collect()
        before, peak_before = proc.memory_info().rss / 2**20, _peak_mib()
        start = time.perf_counter()
        index = JsonlIndex(path)
        build = time.perf_counter() - start
        grown = proc.memory_info().rss / 2**20 - before
        peak = max(_peak_mib(), peak_before) - before
        raw_us, parse_us = _access_us(index, parse=False), _access_us(index, parse=True)
        print(f"file: {len(index)} lines, {size_mb:.0f} MiB")
        print(f"index build: {build:.2f} s ({size_mb / build:.0f} MiB/s)")
        print(f"RSS growth: {grown:.1f} MiB after the build, peak {peak:.1f} MiB while building "
              f"(limit 64 MiB; offsets + line numbers = {index.offsets.nbytes * 2 / 2**20:.1f} "
              "MiB)")
        print(f"random access: {raw_us:.1f} us/record raw, {parse_us:.1f} us/record with JSON "
              "parse")


if __name__ == "__main__":
    main()
