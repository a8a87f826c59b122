"""Tiling matches the reference rule exactly: grid choice, tile order, thumbnail, pixel values,
JPEG augmentation; and the native GotOcr2 processor agrees with it.

The `ref_*` helpers transcribe the reference (`internvl_chat/internvl/train/dataset.py`:
`find_closest_aspect_ratio`, `dynamic_preprocess`, `build_transform`, `simulate_jpeg_degradation`)
with per-tile PIL crops and torchvision's ToTensor/Normalize arithmetic written out in torch.
"""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFile

from internvl_da.data import tiling
from internvl_da.data.errors import SampleError

SPEC_ORDER_12 = [  # spec training.md §10.2
    (1, 1), (1, 2), (2, 1), (3, 1), (1, 3), (2, 2), (4, 1), (1, 4), (5, 1), (1, 5), (1, 6), (6, 1),
    (3, 2), (2, 3), (7, 1), (1, 7), (4, 2), (2, 4), (1, 8), (8, 1), (1, 9), (3, 3), (9, 1), (2, 5),
    (5, 2), (10, 1), (1, 10), (11, 1), (1, 11), (12, 1), (3, 4), (4, 3), (1, 12), (6, 2), (2, 6),
]


def ref_candidates(min_num, max_num):
    """The reference expression, verbatim (a Python set, stable-sorted by area)."""
    target_ratios = set(
        (i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1)
        for j in range(1, n + 1) if i * j <= max_num and i * j >= min_num)
    return sorted(target_ratios, key=lambda x: x[0] * x[1])


def ref_find_closest_aspect_ratio(aspect_ratio, target_ratios, width, height, image_size):
    best_ratio_diff = float("inf")
    best_ratio = (1, 1)
    area = width * height
    for ratio in target_ratios:
        target_aspect_ratio = ratio[0] / ratio[1]
        ratio_diff = abs(aspect_ratio - target_aspect_ratio)
        if ratio_diff < best_ratio_diff:
            best_ratio_diff = ratio_diff
            best_ratio = ratio
        elif ratio_diff == best_ratio_diff:  # noqa: SIM102 (the reference, verbatim)
            if area > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
                best_ratio = ratio
    return best_ratio


def ref_dynamic_preprocess(image, min_num=1, max_num=12, image_size=448, use_thumbnail=True):
    w, h = image.size
    cols, rows = ref_find_closest_aspect_ratio(
        w / h, ref_candidates(min_num, max_num), w, h, image_size)
    resized = image.resize((image_size * cols, image_size * rows))
    tiles = []
    for i in range(cols * rows):
        box = ((i % (image_size * cols // image_size)) * image_size,
               (i // (image_size * cols // image_size)) * image_size,
               ((i % (image_size * cols // image_size)) + 1) * image_size,
               ((i // (image_size * cols // image_size)) + 1) * image_size)
        tiles.append(resized.crop(box))
    if use_thumbnail and len(tiles) != 1:
        tiles.append(image.resize((image_size, image_size)))
    return tiles


def ref_to_tensor_normalize(tile):
    """torchvision ToTensor then Normalize(IMAGENET mean, std), on one PIL tile."""
    t = torch.from_numpy(np.array(tile, np.uint8, copy=True))
    t = t.view(tile.size[1], tile.size[0], 3).permute(2, 0, 1).contiguous()
    t = t.to(dtype=torch.float32).div(255)
    mean = torch.as_tensor(tiling.MEAN, dtype=torch.float32).view(-1, 1, 1)
    std = torch.as_tensor(tiling.STD, dtype=torch.float32).view(-1, 1, 1)
    return t.sub_(mean).div_(std)


def ref_pixel_values(image, max_num=12, image_size=448, use_thumbnail=True, min_num=1):
    tiles = ref_dynamic_preprocess(image, min_num, max_num, image_size, use_thumbnail)
    return torch.stack([ref_to_tensor_normalize(t) for t in tiles])


def ref_jpeg_degrade(img, quality):
    with io.BytesIO() as output:
        img.convert("RGB").save(output, format="JPEG", quality=quality)
        output.seek(0)
        return Image.open(output).copy()


def scene(width, height, seed=0):
    """Deterministic picture with edges and colour: shapes on a noisy background."""
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height), (rng.randrange(256), 90, 30))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(2, max(3, min(width, height) // 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    return Image.blend(img, noise, 0.2)


# ---- candidate order and grid selection ------------------------------------------------------

def test_candidate_order_matches_spec_and_reference_construction():
    assert tiling.candidate_grids() == SPEC_ORDER_12
    assert tiling.candidate_grids(1, 12) == ref_candidates(1, 12)
    for min_num in (1, 2, 3, 5):
        for max_num in range(min_num, 41):
            assert tiling.candidate_grids(min_num, max_num) == ref_candidates(min_num, max_num)


def test_candidate_order_is_computed_not_taken_from_a_set():
    # The order is CPython's set layout, computed from the tuple hash; check the hash itself.
    for key in [(i, j) for i in range(0, 60) for j in range(0, 60)]:
        assert tiling._pair_hash(key) == hash(key) & (2**64 - 1)
    # Equal-area grids are not in sorted or width-major order (the native processor's order).
    order = tiling.candidate_grids(1, 12)
    assert order.index((3, 1)) < order.index((1, 3)) and order.index((1, 6)) < order.index((6, 1))


@pytest.mark.parametrize("args", [(0, 12), (5, 4), (-1, 3)])
def test_candidate_grids_rejects_bad_range(args):
    with pytest.raises(ValueError):
        tiling.candidate_grids(*args)


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


def test_tie_rule_compares_image_area_with_the_candidates_area():
    # 1000x500: (2,1) matches exactly; (4,2) ties. 500,000 is above half of (2,1)'s tiled area
    # (200,704) but below half of (4,2)'s (802,816): the reference keeps (2,1).
    assert tiling.select_grid(1000, 500) == (2, 1)
    assert tiling.select_grid(1300, 650) == (4, 2)  # 845,000 > 802,816
    # Squares: 2x2 needs area > 401,408 (633^2 = 400,689; 634^2 = 401,956); 3x3 > 903,168.
    assert tiling.select_grid(633, 633) == (1, 1)
    assert tiling.select_grid(634, 634) == (2, 2)
    assert tiling.select_grid(950, 950) == (2, 2) and tiling.select_grid(951, 951) == (3, 3)
    # The threshold scales with image_size.
    assert tiling.select_grid(100, 100, image_size=64) == (2, 2)


def test_select_grid_equals_reference_on_random_sizes():
    rng = random.Random(0)
    for _ in range(3000):
        w, h = rng.randrange(1, 4000), rng.randrange(1, 4000)
        max_num, size = rng.choice([1, 4, 6, 12, 24]), rng.choice([448, 224, 64])
        expected = ref_find_closest_aspect_ratio(w / h, ref_candidates(1, max_num), w, h, size)
        assert tiling.select_grid(w, h, 1, max_num, size) == expected, (w, h, max_num, size)


def test_count_tiles_flags_and_multi_image_budget():
    assert tiling.count_tiles(1600, 900, use_thumbnail=False) == 8
    assert tiling.count_tiles(448, 448, use_thumbnail=True) == 1
    assert tiling.tiles_per_image(1, 12) == 12
    assert tiling.tiles_per_image(5, 12) == 2
    assert tiling.tiles_per_image(20, 12) == 1
    with pytest.raises(ValueError):
        tiling.tiles_per_image(0, 12)
    with pytest.raises(ValueError):
        tiling.select_grid(0, 10)


# ---- pixel values ----------------------------------------------------------------------------

@pytest.mark.parametrize("size,image_size,max_num", [
    ((200, 90), 56, 12), ((64, 64), 64, 12), ((90, 200), 56, 12), ((300, 101), 64, 6),
    ((31, 250), 56, 12), ((150, 150), 64, 12), ((400, 60), 56, 4),
])
def test_pixel_values_equal_reference(size, image_size, max_num):
    img = scene(*size)
    ours = tiling.image_to_pixel_values(img, max_num=max_num, image_size=image_size)
    ref = ref_pixel_values(img, max_num=max_num, image_size=image_size)
    assert ours.dtype == torch.float32 and ours.is_contiguous()
    assert ours.shape == ref.shape
    assert torch.equal(ours, ref)


def test_pixel_values_equal_reference_448_stitched():
    img = scene(2688, 896, seed=3)  # the stitched DriveLM size: 6x2 grid, no resize, thumb last
    ours = tiling.image_to_pixel_values(img)
    assert ours.shape == (13, 3, 448, 448)
    assert torch.equal(ours, ref_pixel_values(img))


def test_every_uint8_value_is_normalised_exactly_as_the_reference():
    # One 64x64 tile (grid 1x1, no resize) holding all 256 values in every channel.
    u = np.arange(64 * 64, dtype=np.int64).reshape(64, 64) % 256
    arr = np.stack([u, 255 - u, (u * 7) % 256], axis=-1).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    ours = tiling.image_to_pixel_values(img, image_size=64)
    ref = ref_pixel_values(img, image_size=64)
    assert ours.shape == (1, 3, 64, 64) and torch.equal(ours, ref)
    # Other orders of the same arithmetic differ in some bits: this test would catch them.
    x = torch.from_numpy(arr).permute(2, 0, 1).to(torch.float32)
    mean = torch.tensor(tiling.MEAN).view(3, 1, 1)
    std = torch.tensor(tiling.STD).view(3, 1, 1)
    for other in ((x * (1 / 255) - mean) / std, (x - mean * 255) / (std * 255),
                  (x / 255 - mean) * (1 / std), x / 255 / std - mean / std):
        assert not torch.equal(other.unsqueeze(0), ours)


def test_tiles_row_major_and_thumbnail_last():
    # Paint each grid cell a distinct colour; tile k must carry cell (k % cols, k // cols).
    cols, rows, s = 3, 2, 16
    img = Image.new("RGB", (cols * s, rows * s))
    for k in range(cols * rows):
        img.paste((k * 40, 255 - k * 40, 7), ((k % cols) * s, (k // cols) * s,
                                               (k % cols + 1) * s, (k // cols + 1) * s))
    px = tiling.image_to_pixel_values(img, max_num=6, image_size=s)
    assert px.shape == (7, 3, s, s)
    red = px[:, 0, s // 2, s // 2] * tiling.STD[0] + tiling.MEAN[0]
    assert [round(float(v) * 255) for v in red[:6]] == [k * 40 for k in range(6)]
    thumb = ref_to_tensor_normalize(img.resize((s, s)))
    assert torch.equal(px[-1], thumb)


def test_single_tile_without_thumbnail_and_thumbnail_flag():
    assert tiling.image_to_pixel_values(scene(40, 40), image_size=64).shape == (1, 3, 64, 64)
    img = scene(200, 90)
    no_thumb = tiling.image_to_pixel_values(img, image_size=32, use_thumbnail=False)
    assert no_thumb.shape[0] == 8
    assert torch.equal(no_thumb, ref_pixel_values(img, image_size=32, use_thumbnail=False))


def test_non_rgb_input_is_converted_first():
    for mode in ("L", "RGBA", "P"):
        img = scene(120, 60).convert(mode)
        assert torch.equal(tiling.image_to_pixel_values(img, image_size=32),
                           ref_pixel_values(img.convert("RGB"), image_size=32))


def test_parity_with_transformers_gotocr2_processor():
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import (
        GotOcr2ImageProcessorPil,
    )

    proc = GotOcr2ImageProcessorPil(
        size={"height": 448, "width": 448}, crop_to_patches=True, min_patches=1, max_patches=12,
        image_mean=list(tiling.MEAN), image_std=list(tiling.STD), do_rescale=True,
        rescale_factor=1 / 255, do_normalize=True, do_convert_rgb=True)
    for size in [(300, 1000), (700, 900), (448, 448), (1000, 300)]:
        img = scene(*size, seed=7)
        theirs = proc(images=img, return_tensors="pt")["pixel_values"].to(torch.float32)
        ours = tiling.image_to_pixel_values(img)
        assert ours.shape == theirs.shape  # same grid and thumbnail
        assert (ours - theirs).abs().max().item() <= 1e-5


# ---- augmentation ----------------------------------------------------------------------------

def test_augmentation_equals_reference_draws_and_order():
    # Reference: tiles (thumbnail last), then per tile RandomChoice over 26 JPEG qualities,
    # drawn as torchvision does (random.choices), then ToTensor/Normalize.
    img = scene(200, 90, seed=2)
    for seed in (0, 1, 2):
        draw = random.Random(seed)
        tiles = ref_dynamic_preprocess(img, 1, 12, 32, True)
        expected = torch.stack([
            ref_to_tensor_normalize(ref_jpeg_degrade(t, draw.choices(range(75, 101))[0]))
            for t in tiles])
        ours = tiling.image_to_pixel_values(img, image_size=32, augment=random.Random(seed))
        assert torch.equal(ours, expected)


def test_augmentation_deterministic_bounded_and_per_tile(monkeypatch):
    img = scene(200, 90)
    a = tiling.image_to_pixel_values(img, image_size=32, augment=random.Random(5))
    b = tiling.image_to_pixel_values(img, image_size=32, augment=random.Random(5))
    plain = tiling.image_to_pixel_values(img, image_size=32)
    assert torch.equal(a, b)
    assert a.shape == plain.shape and not torch.equal(a, plain)

    calls = []
    real = tiling._jpeg_roundtrip
    monkeypatch.setattr(tiling, "_jpeg_roundtrip",
                        lambda tile, q: calls[-1].append(q) or real(tile, q))
    for seed in range(40):
        calls.append([])
        tiling.image_to_pixel_values(img, image_size=32, augment=random.Random(seed))
    assert all(len(qs) == 9 for qs in calls)  # 8 grid tiles + thumbnail, one draw each
    seen = {q for qs in calls for q in qs}
    assert seen <= set(range(75, 101)) and {75, 100} <= seen and len(seen) > 20
    assert sum(len(set(qs)) > 1 for qs in calls) == len(calls)  # tiles get their own quality


# ---- loading ---------------------------------------------------------------------------------

def test_load_image_errors_name_the_file(tmp_path):
    good = tmp_path / "good.jpg"
    scene(300, 200).save(good, quality=90)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases = [(tmp_path / "missing.jpg", "not found"), (garbage, "not a readable image"),
             (truncated, "truncated"), (tmp_path, "cannot read")]
    for path, reason in cases:
        with pytest.raises(SampleError, match=reason) as info:
            tiling.load_image(path)
        assert info.value.source == str(path) and str(path) in str(info.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    loaded = tiling.load_image(good)
    assert loaded.mode == "RGB" and loaded.size == (300, 200)


def test_load_image_converts_to_rgb(tmp_path):
    path = tmp_path / "gray.png"
    scene(50, 40).convert("L").save(path)
    img = tiling.load_image(path)
    assert img.mode == "RGB"
    assert np.array_equal(np.asarray(img), np.asarray(Image.open(path).convert("RGB")))


def test_count_tiles_matches_pixel_values_over_many_sizes():
    rng = random.Random(0)
    for _ in range(40):
        w, h = rng.randrange(8, 400), rng.randrange(8, 400)
        max_num, min_num = rng.choice([1, 4, 6, 12]), rng.choice([1, 1, 2])
        thumb = rng.random() < 0.8
        if min_num > max_num:
            continue
        n = tiling.image_to_pixel_values(Image.new("RGB", (w, h)), max_num, 16, thumb,
                                         min_num).shape[0]
        assert n == tiling.count_tiles(w, h, max_num, min_num, thumb, image_size=16)


@pytest.mark.parametrize("max_num", [12, 6])  # 3.5 training / inference; VLMEvalKit GMAI: 6
def test_internvl35_tiling_is_its_processor_and_ours(max_num):
    """InternVL3.5's -HF processor (GotOcr2 `crop_to_patches`, thumbnail when > 1 tile) set from
    the registry's 3.5 values gives our tiles (spec internvl35.md §8: same rule as InternVL2)."""
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import (
        GotOcr2ImageProcessorPil,
    )

    from internvl_da.model.families import get_model

    spec = get_model("internvl3.5", "1b")
    assert (spec.image_size, spec.max_dynamic_patch, spec.use_thumbnail) == (448, 12, True)
    proc = GotOcr2ImageProcessorPil(
        size={"height": spec.image_size, "width": spec.image_size}, crop_to_patches=True,
        min_patches=1, max_patches=max_num, image_mean=list(tiling.MEAN),
        image_std=list(tiling.STD), do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
        do_convert_rgb=True)
    for size in [(1600, 400), (500, 2000), (900, 700), (300, 300)]:
        img = scene(*size, seed=11)
        theirs = proc(images=img, return_tensors="pt")["pixel_values"].to(torch.float32)
        ours = tiling.image_to_pixel_values(img, max_num, spec.image_size, spec.use_thumbnail)
        grid = tiling.select_grid(*size, max_num=max_num, image_size=spec.image_size)
        assert ours.shape[0] == theirs.shape[0] == grid[0] * grid[1] + (grid != (1, 1))
        assert (ours - theirs).abs().max().item() <= 1e-5
