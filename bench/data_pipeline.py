"""Per-image cost of `image_to_pixel_values` next to its floor and the reference's way.

decode    = internvl_da.data.tiling.load_image (JPEG decode to RGB), shared by the rows below
floor     = decode + the one BICUBIC resize to the grid + the thumbnail resize (unavoidable work)
ours      = decode + internvl_da.data.tiling.image_to_pixel_values
reference = decode + resize + per-tile PIL crop + per-tile ToTensor/Normalize (the reference's
            `dynamic_preprocess` + `build_transform`, torchvision arithmetic written out)

One torch thread; CPU time of this process (the per-core cost, robust to other processes on a
shared machine); the rows are timed in turn within each repeat so drift hits all alike; medians
over repeats; ours and the reference are checked to be identical.
Target: ours/floor <= 1.3.

    .venv/bin/python bench/data_pipeline.py
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from internvl_da.data import tiling

IMAGES_PER_TYPE = 4
REPEATS = 15
SIZE = 448
TYPES = (("camera 1600x900", (1600, 900)), ("stitched 2688x896", (2688, 896)))


def synthetic_jpeg(path: Path, size: tuple[int, int], seed: int) -> None:
    """A camera-like picture: sky-to-road gradient, noise, sharp boxes and lines, JPEG q75."""
    rng = random.Random(seed)
    width, height = size
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    noise = Image.effect_noise(size, 24).convert("RGB")
    img = Image.blend(img, noise, 0.25)
    draw = ImageDraw.Draw(img)
    for _ in range(80):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(10, 300), rng.randrange(10, 200)
        fill = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle((x, y, x + w, y + h), fill=fill, outline=(0, 0, 0), width=2)
        else:
            draw.line((x, y, x + w, y + h), fill=fill, width=rng.randrange(1, 6))
    img.filter(ImageFilter.SMOOTH).save(path, quality=75)


def floor(path: Path) -> None:
    img = tiling.load_image(path)
    cols, rows = tiling.select_grid(*img.size)
    img.resize((SIZE * cols, SIZE * rows))
    img.resize((SIZE, SIZE))


def ours(path: Path) -> torch.Tensor:
    return tiling.image_to_pixel_values(tiling.load_image(path))


def reference(path: Path) -> torch.Tensor:
    img = tiling.load_image(path)
    cols, rows = tiling.select_grid(*img.size)
    resized = img.resize((SIZE * cols, SIZE * rows))
    crops = [resized.crop(((i % cols) * SIZE, (i // cols) * SIZE, (i % cols + 1) * SIZE,
                           (i // cols + 1) * SIZE)) for i in range(cols * rows)]
    crops.append(img.resize((SIZE, SIZE)))
    mean = torch.tensor(tiling.MEAN, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(tiling.STD, dtype=torch.float32).view(-1, 1, 1)
    out = []
    for crop in crops:  # torchvision ToTensor, then Normalize
        t = torch.from_numpy(np.array(crop, np.uint8, copy=True)).permute(2, 0, 1).contiguous()
        out.append(t.to(torch.float32).div(255).sub_(mean).div_(std))
    return torch.stack(out)


def time_interleaved(fns: dict[str, Callable], paths: list[Path]) -> dict[str, float]:
    """Median ms per image of each function, the functions taking turns within each repeat."""
    for fn in fns.values():
        fn(paths[0])  # warm-up
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(REPEATS):
        for name, fn in fns.items():
            start = time.process_time()
            for p in paths:
                fn(p)
            runs[name].append((time.process_time() - start) / len(paths) * 1000)
    return {name: statistics.median(r) for name, r in runs.items()}


def main() -> None:
    torch.set_num_threads(1)
    fns = {"decode": tiling.load_image, "floor": floor, "ours": ours, "reference": reference}
    print(f"{'image':18s} {'tiles':>5s} {'decode':>7s} {'floor':>6s} {'ours':>6s} {'ref':>6s} "
          f"{'ours/floor':>10s} {'ref/floor':>9s} {'identical':>9s}   (ms per image)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in TYPES:
            paths = [Path(tmp) / f"{name.split()[0]}_{k}.jpg" for k in range(IMAGES_PER_TYPE)]
            for k, p in enumerate(paths):
                synthetic_jpeg(p, size, k)
            same = all(torch.equal(ours(p), reference(p)) for p in paths)
            ms = time_interleaved(fns, paths)
            tiles = ours(paths[0]).shape[0]
            print(f"{name:18s} {tiles:5d} {ms['decode']:7.1f} {ms['floor']:6.1f} {ms['ours']:6.1f} "
                  f"{ms['reference']:6.1f} {ms['ours'] / ms['floor']:10.2f} "
                  f"{ms['reference'] / ms['floor']:9.2f} {same!s:>9s}")


if __name__ == "__main__":
    main()
