"""Dynamic tiling exactly as InternVL (reference `internvl_chat/internvl/train/dataset.py`).

An image is resized (PIL BICUBIC, the default for RGB) to a grid of `cols x rows` square tiles
chosen by aspect ratio, cut row-major, and followed by a thumbnail of the whole image when the
grid has more than one tile. Tiles are normalised with ImageNet mean/std as
`((u8 / 255) - mean) / std` in float32: the reference's ToTensor + Normalize, bit for bit.

The pixel path avoids the reference's per-tile PIL crop and per-tile ToTensor: Pillow writes
each colour plane of the resized grid once (one C pass each, no interleaved RGB copy), tiles are
views into the planes, and each tile plane is converted and normalised in place in the output
while it is in cache. The float arithmetic is the reference's operations in the reference's
order, so the values are identical (tests/data/test_tiling.py checks all 256 values per channel).
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import chain
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from internvl_da.data.errors import SampleError

MEAN = (0.485, 0.456, 0.406)  # ImageNet (reference constants.py, normalize_type="imagenet")
STD = (0.229, 0.224, 0.225)
JPEG_QUALITIES = tuple(range(75, 101))  # train augmentation: one of 26 qualities per tile
# float32 scalars, as torchvision holds mean/std (torch.as_tensor(..., dtype=float32))
_F255 = np.float32(255)
_MEAN32 = tuple(np.float32(m) for m in MEAN)
_STD32 = tuple(np.float32(s) for s in STD)

# CPython's (>= 3.8, 64-bit) tuple hash (xxHash-based, Objects/tupleobject.c) and set layout
# (Objects/setobject.c). The reference orders equal-area grids by set iteration; we compute that
# order explicitly so it does not depend on the interpreter running this code.
_MASK64 = (1 << 64) - 1
_XXPRIME_1, _XXPRIME_2, _XXPRIME_5 = (
    11400714785074694791, 14029467366897019727, 2870177450012600261)
_LINEAR_PROBES, _PERTURB_SHIFT, _SET_MINSIZE = 9, 5, 8


def _pair_hash(key: tuple[int, int]) -> int:
    """hash(key) as an unsigned 64-bit int, for a pair of small non-negative ints."""
    acc = _XXPRIME_5
    for lane in key:  # hash(n) == n for small non-negative ints
        acc = (acc + lane * _XXPRIME_2) & _MASK64
        acc = ((acc << 31) | (acc >> 33)) & _MASK64
        acc = (acc * _XXPRIME_1) & _MASK64
    acc = (acc + (len(key) ^ _XXPRIME_5 ^ 3527539)) & _MASK64
    return 1546275796 if acc == _MASK64 else acc


def _probe(table: list, key: tuple[int, int]) -> int:
    """Slot holding `key`, else the first free slot of its probe sequence (no deletions here)."""
    mask, h = len(table) - 1, _pair_hash(key)
    i, perturb = h & mask, h
    while True:
        stop = i + _LINEAR_PROBES if i + _LINEAR_PROBES <= mask else i
        for j in range(i, stop + 1):
            if table[j] is None or table[j] == key:
                return j
        perturb >>= _PERTURB_SHIFT
        i = (i * 5 + 1 + perturb) & mask


def _set_order(keys: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Iteration order of `set(keys)`: 8 slots, grow to > 4*used once 3/5 full, reinsert."""
    table: list = [None] * _SET_MINSIZE
    used = 0
    for key in keys:
        slot = _probe(table, key)
        if table[slot] is not None:
            continue  # duplicate
        table[slot] = key
        used += 1
        if used * 5 >= (len(table) - 1) * 3:
            size = _SET_MINSIZE
            while size <= used * 4:
                size <<= 1
            old, table = [k for k in table if k is not None], [None] * size
            for k in old:
                table[_probe(table, k)] = k
    return [k for k in table if k is not None]


@lru_cache(maxsize=64)
def _candidates(min_num: int, max_num: int) -> tuple[tuple[int, int], ...]:
    # The reference: set((i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1)
    #   for j in range(1, n + 1) if min_num <= i * j <= max_num), stable-sorted by i * j.
    keys = ((i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1)
            for j in range(1, n + 1) if min_num <= i * j <= max_num)
    return tuple(sorted(_set_order(keys), key=lambda g: g[0] * g[1]))


def candidate_grids(min_num: int = 1, max_num: int = 12) -> list[tuple[int, int]]:
    """Candidate (cols, rows) grids in the reference's scan order (spec training.md §10.2)."""
    if min_num < 1 or max_num < min_num:
        raise ValueError(f"need 1 <= min_num <= max_num, got min_num={min_num}, max_num={max_num}")
    return list(_candidates(min_num, max_num))


def select_grid(
    width: int, height: int, min_num: int = 1, max_num: int = 12, image_size: int = 448
) -> tuple[int, int]:
    """The reference `find_closest_aspect_ratio`: closest aspect ratio, strict `<`; on an exact
    tie the candidate wins only if the image area exceeds half the candidate's tiled area."""
    if width <= 0 or height <= 0 or image_size <= 0:
        raise ValueError(f"sizes must be positive, got {width}x{height}, image_size={image_size}")
    aspect_ratio = width / height
    area = width * height
    best, best_diff = (1, 1), float("inf")
    for cols, rows in candidate_grids(min_num, max_num):
        diff = abs(aspect_ratio - cols / rows)
        if diff < best_diff:
            best, best_diff = (cols, rows), diff
        elif diff == best_diff and area > 0.5 * image_size * image_size * cols * rows:
            best = (cols, rows)
    return best


def count_tiles(
    width: int,
    height: int,
    max_num: int = 12,
    min_num: int = 1,
    use_thumbnail: bool = True,
    image_size: int = 448,
) -> int:
    """Number of tiles `image_to_pixel_values` returns for an image of this size (no pixels)."""
    cols, rows = select_grid(width, height, min_num, max_num, image_size)
    blocks = cols * rows
    return blocks + 1 if use_thumbnail and blocks != 1 else blocks


def tiles_per_image(num_images: int, max_num: int) -> int:
    """Tile budget of each image of a multi-image sample (reference: max(1, max_num // n))."""
    if num_images < 1:
        raise ValueError(f"num_images must be >= 1, got {num_images}")
    return max(1, max_num // num_images)


def load_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image as RGB; missing, corrupt or truncated files are errors."""
    try:
        with Image.open(path) as img:
            img.load()  # full decode: a truncated file raises here (no LOAD_TRUNCATED_IMAGES)
            return img if img.mode == "RGB" else img.convert("RGB")
    except FileNotFoundError:
        reason = "image file not found"
    except UnidentifiedImageError:
        reason = "not a readable image (unknown format or corrupt header)"
    except Image.DecompressionBombError as exc:
        reason = f"image too large to decode safely: {exc}"
    except OSError as exc:
        kind = "cannot read image file" if exc.errno is not None else "corrupt or truncated image"
        reason = f"{kind}: {exc}"
    except (SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error) as exc:
        reason = f"corrupt image: {type(exc).__name__}: {exc}"  # raised by Pillow's parsers
    raise SampleError(str(path), None, reason)


def _planes(image: Image.Image) -> list[np.ndarray]:
    """R, G, B planes, each (H, W) uint8 (read-only). Pillow's band packers take one C pass each;
    this is cheaper than the interleaved (H, W, 3) array and a channel transpose."""
    shape = (image.height, image.width)
    return [np.frombuffer(image.tobytes("raw", band), np.uint8).reshape(shape) for band in "RGB"]


def _grid_tiles(grid: Image.Image, cols: int, rows: int, size: int) -> Iterator[list[np.ndarray]]:
    """Row-major tiles as views into the grid's planes: tile k is column k % cols, row k // cols."""
    planes = _planes(grid)
    for k in range(cols * rows):
        y, x = (k // cols) * size, (k % cols) * size
        yield [p[y:y + size, x:x + size] for p in planes]


def _tile_boxes(cols: int, rows: int, size: int) -> list[tuple[int, int, int, int]]:
    """PIL crop boxes (left, top, right, bottom) of the grid tiles, row-major."""
    return [((k % cols) * size, (k // cols) * size, (k % cols + 1) * size, (k // cols + 1) * size)
            for k in range(cols * rows)]


def _normalise(tiles: Iterable[list[np.ndarray]], count: int, size: int) -> torch.Tensor:
    """(count, 3, S, S) float32 from per-tile uint8 planes: ToTensor, then Normalize.

    Per tile and channel, in float32: exact u8 -> f32 copy, `/ 255` (ToTensor), `- mean`, `/ std`
    (Normalize): the reference's operations in its order, each correctly rounded (IEEE 754), so
    the bits equal torch's. Working one 448x448 plane at a time keeps it in cache.
    """
    out = np.empty((count, 3, size, size), dtype=np.float32)
    for k, planes in enumerate(tiles):
        for c, plane in enumerate(planes):
            o = out[k, c]
            np.copyto(o, plane)
            np.divide(o, _F255, out=o)
            np.subtract(o, _MEAN32[c], out=o)
            np.divide(o, _STD32[c], out=o)
    return torch.from_numpy(out)


def _jpeg_roundtrip(tile: Image.Image, quality: int) -> Image.Image:
    """Reference `simulate_jpeg_degradation(quality)`: in-memory JPEG (PIL default subsampling)."""
    buffer = io.BytesIO()
    tile.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def image_to_pixel_values(
    image: Image.Image,
    max_num: int = 12,
    image_size: int = 448,
    use_thumbnail: bool = True,
    min_num: int = 1,
    *,
    augment: random.Random | None = None,
) -> torch.Tensor:
    """Tile and normalise one image: float32 `[T, 3, image_size, image_size]`, thumbnail last.

    `augment`: a `random.Random` driving the train-time JPEG re-compression; None for none.
    Each tile (thumbnail included, after tiling) gets its own quality, drawn in tile order as
    torchvision's `RandomChoice` draws it: `augment.choices(JPEG_QUALITIES)[0]` (75..100).
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    cols, rows = select_grid(image.width, image.height, min_num, max_num, image_size)
    grid_size = (image_size * cols, image_size * rows)
    # PIL's resize to the same size returns a copy, so the image itself holds the same pixels.
    grid = image if image.size == grid_size else image.resize(grid_size)  # BICUBIC for RGB
    thumb = None
    if use_thumbnail and cols * rows != 1:
        thumb = image.resize((image_size, image_size))  # whole image, aspect not preserved
    count = cols * rows + (thumb is not None)
    if augment is None:
        thumb_planes = [_planes(thumb)] if thumb is not None else []
        return _normalise(chain(_grid_tiles(grid, cols, rows, image_size), thumb_planes),
                          count, image_size)
    crops = [grid.crop(box) for box in _tile_boxes(cols, rows, image_size)]
    crops += [thumb] if thumb is not None else []
    qualities = [augment.choices(JPEG_QUALITIES)[0] for _ in crops]
    tiles = (_planes(_jpeg_roundtrip(c, q)) for c, q in zip(crops, qualities, strict=True))
    return _normalise(tiles, count, image_size)
