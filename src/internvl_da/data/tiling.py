"""Dynamic tiling exactly as InternVL (reference `internvl_chat/internvl/train/dataset.py`).

An image is resized (PIL BICUBIC, the default for RGB) to a grid of `cols x rows` square tiles
chosen by aspect ratio, cut row-major, and followed by a thumbnail of the whole image when the
grid has more than one tile. Tiles are normalised with ImageNet mean/std as
`((u8 / 255) - mean) / std` in float32, which is the reference's ToTensor + Normalize bit for bit.

The pixel path avoids the reference's per-tile PIL crop and per-tile transform: the resized grid
is viewed as tiles with one reshape/permute and normalised in one vectorised pass; the arithmetic
per element is the same, so values are identical.
"""

from __future__ import annotations

import io
import random
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from internvl_da.data.errors import SampleError

MEAN = (0.485, 0.456, 0.406)  # ImageNet (reference constants.py, normalize_type="imagenet")
STD = (0.229, 0.224, 0.225)
JPEG_QUALITIES = tuple(range(75, 101))  # train augmentation: one of 26 qualities per tile

# The reference builds the candidates as a Python set and stable-sorts it by area, so the order
# among equal areas is CPython's set order. It is hard-coded for the two values the recipe and
# the evaluation scripts use (spec training.md §10.2); tests check it against the construction.
_ORDERS: dict[tuple[int, int], tuple[tuple[int, int], ...]] = {
    (1, 12): (
        (1, 1), (1, 2), (2, 1), (3, 1), (1, 3), (2, 2), (4, 1), (1, 4), (5, 1), (1, 5), (1, 6),
        (6, 1), (3, 2), (2, 3), (7, 1), (1, 7), (4, 2), (2, 4), (1, 8), (8, 1), (1, 9), (3, 3),
        (9, 1), (2, 5), (5, 2), (10, 1), (1, 10), (11, 1), (1, 11), (12, 1), (3, 4), (4, 3),
        (1, 12), (6, 2), (2, 6),
    ),
    (1, 6): (
        (1, 1), (1, 2), (2, 1), (3, 1), (1, 3), (4, 1), (1, 4), (2, 2), (1, 5), (5, 1), (6, 1),
        (2, 3), (1, 6), (3, 2),
    ),
}


@lru_cache(maxsize=64)
def _reference_construction(min_num: int, max_num: int) -> tuple[tuple[int, int], ...]:
    # The reference expression itself, for (min, max) pairs not in _ORDERS. Integer-tuple hashes
    # do not depend on PYTHONHASHSEED, so this order is stable for a given CPython (>= 3.8).
    grids = {
        (i, j)
        for n in range(min_num, max_num + 1)
        for i in range(1, n + 1)
        for j in range(1, n + 1)
        if min_num <= i * j <= max_num
    }
    return tuple(sorted(grids, key=lambda g: g[0] * g[1]))


def candidate_grids(min_num: int = 1, max_num: int = 12) -> list[tuple[int, int]]:
    """Candidate (cols, rows) grids in the reference's scan order."""
    if min_num < 1 or max_num < min_num:
        raise ValueError(f"need 1 <= min_num <= max_num, got min_num={min_num}, max_num={max_num}")
    return list(_ORDERS.get((min_num, max_num)) or _reference_construction(min_num, max_num))


def select_grid(
    width: int, height: int, min_num: int = 1, max_num: int = 12, image_size: int = 448
) -> tuple[int, int]:
    """The reference `find_closest_aspect_ratio`: closest aspect ratio, strict `<`; on an exact
    tie the candidate wins only if the image area exceeds half the candidate's tiled area."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
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
    return max(1, max_num // max(num_images, 1))


def load_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image as RGB; truncated or corrupt files are errors."""
    try:
        with Image.open(path) as img:
            img.load()  # full decode: a truncated file raises here (no LOAD_TRUNCATED_IMAGES)
            return img.convert("RGB")
    except FileNotFoundError:
        raise SampleError(str(path), None, "image file not found") from None
    except UnidentifiedImageError:
        raise SampleError(str(path), None, "not a readable image (unknown format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise SampleError(str(path), None, f"corrupt or truncated image: {exc}") from None


def _normalise_into(out: torch.Tensor, tiles_u8: torch.Tensor) -> torch.Tensor:
    """Write ((u8 / 255) - mean) / std into `out` (T, 3, S, S) float32.

    Same ops, same order as ToTensor().div(255) followed by Normalize, so bit-identical;
    done in place to avoid temporaries (the conversion copy also absorbs the tile permute).
    """
    shape = (1,) * (out.dim() - 3) + (3, 1, 1)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(shape)
    std = torch.tensor(STD, dtype=torch.float32).view(shape)
    out.copy_(tiles_u8)
    return out.div_(255).sub_(mean).div_(std)


def _grid_to_tiles(grid: Image.Image, cols: int, rows: int, size: int) -> torch.Tensor:
    """A view (rows, cols, 3, S, S) of the grid image: row-major tiles, no copy."""
    with warnings.catch_warnings():  # read-only buffer; it is only ever read
        warnings.simplefilter("ignore", UserWarning)
        array = torch.from_numpy(np.asarray(grid, dtype=np.uint8))  # (rows*S, cols*S, 3)
    return array.view(rows, size, cols, size, 3).permute(0, 2, 4, 1, 3)


def _jpeg_roundtrip(tile: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    tile.save(buffer, format="JPEG", quality=quality)  # PIL default subsampling, as the reference
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _augmented_tiles(
    grid: Image.Image, cols: int, rows: int, size: int, thumb: Image.Image | None,
    augment: random.Random,
) -> torch.Tensor:
    # Reference order: crop the tiles, append the thumbnail, then JPEG-augment each tile.
    tiles = []
    for k in range(cols * rows):
        x, y = (k % cols) * size, (k // cols) * size
        tiles.append(grid.crop((x, y, x + size, y + size)))
    if thumb is not None:
        tiles.append(thumb)
    out = [_jpeg_roundtrip(t, augment.choice(JPEG_QUALITIES)) for t in tiles]
    arrays = np.stack([np.asarray(t, dtype=np.uint8) for t in out])  # (T, S, S, 3)
    return torch.from_numpy(arrays).permute(0, 3, 1, 2)


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

    `augment`: a `random.Random` driving the train-time JPEG re-compression (quality 75..100,
    chosen independently per tile, thumbnail included); None for no augmentation.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    cols, rows = select_grid(image.width, image.height, min_num, max_num, image_size)
    grid = image.resize((image_size * cols, image_size * rows))  # BICUBIC (PIL default for RGB)
    needs_thumb = use_thumbnail and cols * rows != 1
    thumb = image.resize((image_size, image_size)) if needs_thumb else None
    if augment is not None:
        tiles = _augmented_tiles(grid, cols, rows, image_size, thumb, augment)
        return _normalise_into(torch.empty(tiles.shape, dtype=torch.float32), tiles)
    blocks = cols * rows
    out = torch.empty((blocks + (thumb is not None), 3, image_size, image_size),
                      dtype=torch.float32)
    grid_out = out[:blocks].view(rows, cols, 3, image_size, image_size)
    _normalise_into(grid_out, _grid_to_tiles(grid, cols, rows, image_size))
    if thumb is not None:
        _normalise_into(out[blocks:].view(1, 1, 3, image_size, image_size),
                        _grid_to_tiles(thumb, 1, 1, image_size))
    return out
