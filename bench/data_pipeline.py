"""Per-image cost of `image_to_pixel_values` next to its floor and the reference's way.

floor     = JPEG decode + the one BICUBIC resize to the grid + the thumbnail resize
ours      = internvl_da.data.tiling.image_to_pixel_values (decode included)
reference = decode + resize + per-tile PIL crop + per-tile ToTensor/Normalize arithmetic
Ratios are measured in one run, 1 torch thread; values of ours and the reference are compared.

    .venv/bin/python bench/data_pipeline.py
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from internvl_da.data import tiling

REPEATS = 7


def synthetic_jpeg(path: Path, size: tuple[int, int], seed: int) -> None:
    rng = random.Random(seed)
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w = rng.randrange(20, 300)
        draw.rectangle((x, y, x + w, y + w // 2), fill=tuple(rng.randrange(256) for _ in range(3)))
    img.save(path, quality=75)


def floor(path: Path) -> None:
    img = Image.open(path).convert("RGB")
    cols, rows = tiling.select_grid(*img.size)
    img.resize((448 * cols, 448 * rows))
    img.resize((448, 448))


def ours(path: Path) -> torch.Tensor:
    return tiling.image_to_pixel_values(Image.open(path).convert("RGB"))


def reference(path: Path) -> torch.Tensor:
    img = Image.open(path).convert("RGB")
    cols, rows = tiling.select_grid(*img.size)
    resized = img.resize((448 * cols, 448 * rows))
    crops = [resized.crop(((i % cols) * 448, (i // cols) * 448, (i % cols + 1) * 448,
                           (i // cols + 1) * 448)) for i in range(cols * rows)]
    crops.append(img.resize((448, 448)))
    mean = torch.tensor(tiling.MEAN).view(-1, 1, 1)
    std = torch.tensor(tiling.STD).view(-1, 1, 1)
    out = []
    for crop in crops:
        t = torch.from_numpy(np.array(crop, np.uint8, copy=True)).permute(2, 0, 1).contiguous()
        out.append(t.to(torch.float32).div(255).sub_(mean).div_(std))
    return torch.stack(out)


def per_image_ms(fn, paths: list[Path]) -> float:
    for p in paths[:2]:
        fn(p)  # warm-up
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for p in paths:
            fn(p)
        runs.append((time.perf_counter() - start) / len(paths) * 1000)
    return statistics.median(runs)


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {}
        for name, size in (("camera 1600x900", (1600, 900)), ("stitched 2688x896", (2688, 896))):
            paths = [Path(tmp) / f"{name.split()[0]}_{k}.jpg" for k in range(4)]
            for k, p in enumerate(paths):
                synthetic_jpeg(p, size, k)
            cases[name] = paths
        print(f"{'image':20s} {'tiles':>5s} {'floor ms':>9s} {'ours ms':>8s} {'ref ms':>7s} "
              f"{'ours/floor':>10s} {'ref/floor':>9s} {'identical':>9s}")
        for name, paths in cases.items():
            same = all(torch.equal(ours(p), reference(p)) for p in paths)
            f, o, r = (per_image_ms(fn, paths) for fn in (floor, ours, reference))
            tiles = ours(paths[0]).shape[0]
            print(f"{name:20s} {tiles:5d} {f:9.1f} {o:8.1f} {r:7.1f} {o / f:10.2f} {r / f:9.2f} "
                  f"{same!s:>9s}")


if __name__ == "__main__":
    main()
