"""Tiling matches the reference rule exactly: grid choice, tile order, thumbnail, pixel values."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from internvl_da.data import tiling
from internvl_da.data.errors import SampleError

SPEC_ORDER_12 = [
    (1, 1), (1, 2), (2, 1), (3, 1), (1, 3), (2, 2), (4, 1), (1, 4), (5, 1), (1, 5), (1, 6), (6, 1),
    (3, 2), (2, 3), (7, 1), (1, 7), (4, 2), (2, 4), (1, 8), (8, 1), (1, 9), (3, 3), (9, 1), (2, 5),
    (5, 2), (10, 1), (1, 10), (11, 1), (1, 11), (12, 1), (3, 4), (4, 3), (1, 12), (6, 2), (2, 6),
]


def reference_candidates(min_num, max_num):
    """The reference expression, verbatim."""
    target_ratios = set(
        (i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1)
        for j in range(1, n + 1) if i * j <= max_num and i * j >= min_num)
    return sorted(target_ratios, key=lambda x: x[0] * x[1])


def reference_tiles(image, max_num, image_size, use_thumbnail=True, min_num=1):
    """Independent re-implementation of the reference: PIL crops + per-tile ToTensor/Normalize."""
    cols, rows = tiling.select_grid(image.width, image.height, min_num, max_num, image_size)
    resized = image.resize((image_size * cols, image_size * rows))
    crops = []
    for i in range(cols * rows):
        box = ((i % cols) * image_size, (i // cols) * image_size,
               ((i % cols) + 1) * image_size, ((i // cols) + 1) * image_size)
        crops.append(resized.crop(box))
    if use_thumbnail and len(crops) != 1:
        crops.append(image.resize((image_size, image_size)))
    out = []
    mean = torch.tensor(tiling.MEAN, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(tiling.STD, dtype=torch.float32).view(-1, 1, 1)
    for crop in crops:
        t = torch.from_numpy(np.array(crop, np.uint8, copy=True)).permute(2, 0, 1).contiguous()
        t = t.to(torch.float32).div(255)
        out.append(t.sub_(mean).div_(std))
    return torch.stack(out)


def scene(width, height, seed=0):
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (rng.randrange(256), 90, 30))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(5, max(6, min(width, height) // 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    return img


def test_candidate_order_matches_spec_and_reference():
    assert tiling.candidate_grids(1, 12) == SPEC_ORDER_12
    for max_num in range(1, 25):
        for min_num in (1, 2):
            if min_num <= max_num:
                assert tiling.candidate_grids(min_num, max_num) == \
                    reference_candidates(min_num, max_num)


@pytest.mark.parametrize("size,max_num,grid,tiles", [
    ((1600, 900), 12, (4, 2), 9),
    ((2688, 896), 12, (6, 2), 13),
    ((1280, 720), 12, (4, 2), 9),
    ((1000, 1000), 12, (3, 3), 10),
    ((700, 700), 12, (2, 2), 5),
    ((800, 800), 12, (2, 2), 5),
    ((448, 448), 12, (1, 1), 1),
    ((512, 512), 12, (1, 1), 1),
    ((600, 600), 12, (1, 1), 1),
    ((224, 224), 12, (1, 1), 1),
    ((640, 480), 12, (4, 3), 13),
    ((1024, 768), 12, (4, 3), 13),
    ((900, 1600), 12, (2, 4), 9),
    ((1600, 900), 6, (2, 1), 3),
    ((2688, 896), 6, (3, 1), 4),
])
def test_spec_grid_table(size, max_num, grid, tiles):
    assert tiling.select_grid(*size, max_num=max_num) == grid
    assert tiling.count_tiles(*size, max_num=max_num) == tiles


def test_tie_rule_uses_candidate_area():
    # 1600x900 ties 2x1 and 4x2 (|1.78-2| both); area 1.44M > 0.5*448^2*8 = 802816 -> 4x2.
    assert tiling.select_grid(1600, 900) == (4, 2)
    # The same ratio, small image: area below every larger candidate's half-area -> 2x1 stays.
    assert tiling.select_grid(160, 90) == (2, 1)
    # Square images: 2x2 needs area > 0.5*448^2*4 = 401408 (633^2 = 400689, 634^2 = 401956).
    assert tiling.select_grid(633, 633) == (1, 1)
    assert tiling.select_grid(634, 634) == (2, 2)


def test_count_tiles_without_thumbnail_and_multi_image_budget():
    assert tiling.count_tiles(1600, 900, use_thumbnail=False) == 8
    assert tiling.tiles_per_image(1, 12) == 12
    assert tiling.tiles_per_image(5, 12) == 2
    assert tiling.tiles_per_image(20, 12) == 1


@pytest.mark.parametrize("size", [(200, 90), (64, 64), (90, 200), (300, 101), (31, 250)])
def test_pixel_values_equal_reference_small_tiles(size):
    img = scene(*size)
    ours = tiling.image_to_pixel_values(img, max_num=12, image_size=32)
    ref = reference_tiles(img, max_num=12, image_size=32)
    assert ours.dtype == torch.float32 and ours.is_contiguous()
    assert torch.equal(ours, ref)
    assert ours.shape[0] == tiling.count_tiles(*size, image_size=32)


def test_pixel_values_equal_reference_448_stitched_aspect():
    img = scene(2688, 896, seed=3)  # the stitched DriveLM size: 6x2 grid, thumbnail last
    ours = tiling.image_to_pixel_values(img, max_num=12, image_size=448)
    assert ours.shape == (13, 3, 448, 448)
    assert torch.equal(ours, reference_tiles(img, 12, 448))


def test_tiles_row_major_and_thumbnail_last():
    # Paint each grid cell a distinct colour; tile k must carry cell (k % cols, k // cols).
    cols, rows, s = 3, 2, 16
    img = Image.new("RGB", (cols * s, rows * s))
    for k in range(cols * rows):
        img.paste((k * 40, 0, 0), ((k % cols) * s, (k // cols) * s, (k % cols + 1) * s,
                                  (k // cols + 1) * s))
    px = tiling.image_to_pixel_values(img, max_num=6, image_size=s)
    assert px.shape[0] == 7
    red = px[:, 0, s // 2, s // 2] * tiling.STD[0] + tiling.MEAN[0]
    assert [round(float(v) * 255) for v in red[:6]] == [k * 40 for k in range(6)]
    thumb = reference_tiles(img, 6, s)[-1]
    assert torch.equal(px[-1], thumb)


def test_single_tile_has_no_thumbnail_and_no_thumbnail_flag():
    img = scene(40, 40)
    assert tiling.image_to_pixel_values(img, image_size=64).shape == (1, 3, 64, 64)
    assert tiling.image_to_pixel_values(scene(200, 90), image_size=32,
                                        use_thumbnail=False).shape[0] == 8


def test_non_rgb_input_is_converted():
    img = scene(120, 60).convert("L")
    assert torch.equal(tiling.image_to_pixel_values(img, image_size=32),
                       reference_tiles(img.convert("RGB"), 12, 32))


def test_parity_with_transformers_gotocr2_processor():
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import (
        GotOcr2ImageProcessorPil,
    )

    proc = GotOcr2ImageProcessorPil(
        size={"height": 448, "width": 448}, crop_to_patches=True, min_patches=1, max_patches=12,
        image_mean=list(tiling.MEAN), image_std=list(tiling.STD), do_rescale=True,
        rescale_factor=1 / 255, do_normalize=True, do_convert_rgb=True)
    for size in [(300, 1000), (700, 900), (448, 448)]:
        img = scene(*size, seed=7)
        theirs = proc(images=img, return_tensors="pt")["pixel_values"]
        ours = tiling.image_to_pixel_values(img)
        assert ours.shape == theirs.shape
        assert torch.allclose(ours, theirs.to(torch.float32), atol=1e-5)


def test_augmentation_deterministic_and_bounded(monkeypatch):
    img = scene(200, 90)
    a = tiling.image_to_pixel_values(img, image_size=32, augment=random.Random(5))
    b = tiling.image_to_pixel_values(img, image_size=32, augment=random.Random(5))
    plain = tiling.image_to_pixel_values(img, image_size=32)
    assert torch.equal(a, b)
    assert a.shape == plain.shape and not torch.equal(a, plain)

    seen = []
    real = tiling._jpeg_roundtrip
    monkeypatch.setattr(tiling, "_jpeg_roundtrip",
                        lambda tile, q: seen.append(q) or real(tile, q))
    tiling.image_to_pixel_values(img, image_size=32, augment=random.Random(1))
    assert len(seen) == 9  # 8 grid tiles + thumbnail, each drawn independently
    assert all(75 <= q <= 100 for q in seen)
    seen.clear()
    for seed in range(40):
        tiling.image_to_pixel_values(img, image_size=32, augment=random.Random(seed))
    assert {75, 100} <= set(seen) and len(set(seen)) > 15


def test_load_image_errors(tmp_path):
    with pytest.raises(SampleError, match="not found"):
        tiling.load_image(tmp_path / "missing.jpg")
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(SampleError, match=r"garbage\.jpg"):
        tiling.load_image(garbage)
    good = tmp_path / "good.jpg"
    scene(300, 200).save(good, quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(SampleError, match="truncated"):
        tiling.load_image(truncated)
    assert tiling.load_image(good).mode == "RGB"


def test_count_tiles_matches_pixel_values_over_many_sizes():
    rng = random.Random(0)
    for _ in range(40):
        w, h = rng.randrange(8, 400), rng.randrange(8, 400)
        max_num = rng.choice([1, 4, 6, 12])
        img = Image.new("RGB", (w, h))
        n = tiling.image_to_pixel_values(img, max_num=max_num, image_size=16).shape[0]
        assert n == tiling.count_tiles(w, h, max_num=max_num, image_size=16)
