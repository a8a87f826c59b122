"""Stitching throughput in frames/s with 1 and 2 worker processes (one run, same frames).

    .venv/bin/python bench/stitch.py [--frames 24]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from internvl_da.data.coords import CAMERA_ORDER
from internvl_da.prep.stitch import stitch_all


def make_frames(root: Path, frames: int) -> Path:
    rng = random.Random(0)
    raw = {"scene": {"key_frames": {}}}
    for f in range(frames):
        paths = {}
        for cam in CAMERA_ORDER:
            img = Image.linear_gradient("L").resize((1600, 900)).convert("RGB")
            draw = ImageDraw.Draw(img)
            for _ in range(30):
                x, y = rng.randrange(1600), rng.randrange(900)
                draw.rectangle((x, y, x + 150, y + 90),
                               fill=tuple(rng.randrange(256) for _ in range(3)))
            rel = f"nuscenes/samples/{cam}/{f}.jpg"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            img.save(root / rel, quality=90)
            paths[cam] = "../" + rel
        raw["scene"]["key_frames"][f"frame{f}"] = {"image_paths": paths}
    ann = root / "ann.json"
    ann.write_text(json.dumps(raw))
    return ann


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ann = make_frames(root, args.frames)
        rates = {}
        for workers in (1, 2):
            start = time.perf_counter()  # includes the pool's start-up (spawn)
            stitch_all(root, ann, root / f"out{workers}", workers=workers, force=True)
            seconds = time.perf_counter() - start
            rates[workers] = args.frames / seconds
            print(f"{workers} worker(s): {rates[workers]:.1f} frames/s "
                  f"({6 * rates[workers]:.0f} camera images/s, {seconds:.2f} s)")
        same = all((root / "out1" / p.name).read_bytes() == p.read_bytes()
                   for p in (root / "out2").glob("*.jpg"))
        print(f"speed-up with 2 workers: {rates[2] / rates[1]:.2f}x; identical outputs: {same}")


if __name__ == "__main__":
    main()
