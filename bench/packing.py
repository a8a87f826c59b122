"""Useful-token share and tiny-model training speed: packed vs padded, measured in one run.

1. A DriveLM-like length mix (recipe geometry): 13-tile samples of 3328 image tokens + ~100
   text tokens mixed 1:3 with short general samples; packed with the reference packer (16384
   tokens / 48 tiles) vs padded per micro-batch of 4 (to the longest) and the reference's
   unpacked path (every sample padded to 8192).
2. The sample data's remote meta (data/prepared/sample/released/meta/remote.json, from
   `make demo`): useful
   tokens per step and tiny-model training tokens/s, packed vs padded (batch 4).

    .venv/bin/python bench/packing.py
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import torch

from internvl_da.data.dataset import SampleSettings, build_datasets
from internvl_da.data.formats import load_meta
from internvl_da.data.packing import Packer, collate_packed, collate_padded, padding_stats
from internvl_da.data.stream import PackedDataset
from internvl_da.model.tiny import build_tiny_model
from internvl_da.train.loss import weighted_lm_loss

META = Path("data/prepared/sample/released/meta/remote.json")


def length_mix(n: int = 4000, seed: int = 0) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    items = []
    for _ in range(n):
        if rng.random() < 0.25:
            items.append((3328 + 2 + rng.randint(60, 140), 13))  # stitched DriveLM frame
        else:
            tiles = rng.randint(1, 7)
            items.append((256 * tiles + 2 + rng.randint(40, 600), tiles))
    return items


def packed_share(items) -> float:
    packer, useful, slots = Packer(), 0, 0
    buffers = []
    for k, (tokens, tiles) in enumerate(items):
        buffers += packer.add(k, tokens, tiles)
    buffers += packer.flush()
    for b in buffers:
        useful += b.tokens
        slots += b.tokens  # packed rows are not padded (micro-batch 1, strict_mode off)
    return useful / slots, len(buffers), sum(b.tokens for b in buffers) / len(buffers)


def padded_share(items, batch: int) -> float:
    useful = sum(t for t, _ in items)
    slots = sum(max(t for t, _ in items[i:i + batch]) * len(items[i:i + batch])
                for i in range(0, len(items), batch))
    return useful / slots


def train_speed(batches, model, steps: int = 20) -> float:
    """Training tokens (non-padding) per second over `steps` batches."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens, start = 0, time.perf_counter()
    for batch in batches[:steps]:
        flags = batch["image_flags"]
        real = batch["pixel_values"][flags == 1]
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    position_ids=batch["position_ids"], pixel_values=real if len(real) else None)
        loss = weighted_lm_loss(out.logits, batch["labels"], batch["loss_weight"], False)
        loss.backward()
        opt.step()
        opt.zero_grad()
        tokens += padding_stats(batch)["useful"]
    return tokens / (time.perf_counter() - start)


def sample_data_comparison() -> None:
    model, tok = build_tiny_model("qwen2", seed=0)
    settings = SampleSettings(template="Hermes-2", image_size=64, tokens_per_tile=4)
    datasets = build_datasets(load_meta(META), tok, settings, shuffle=True)
    runs = {}
    for budget in (4096, 1024):
        runs[f"packed {budget}"] = [collate_packed([row], tok.pad_token_id) for row in
                                    PackedDataset(datasets, max_tokens=budget, max_tiles=48)]
    samples = [ds[i] for ds in datasets for i in range(len(ds))]
    random.Random(0).shuffle(samples)
    padded = [collate_padded(samples[i:i + 4], tok.pad_token_id, "square")
              for i in range(0, len(samples), 4)]
    runs["padded b4"] = padded
    for name, batches in runs.items():
        stats = [padding_stats(b) for b in batches]
        share = sum(s["useful"] for s in stats) / sum(s["tokens"] for s in stats)
        speed = train_speed(batches, model)
        print(f"sample data, {name:11s}: {len(batches):4d} steps/pass, useful tokens "
              f"{share * 100:5.1f}%, tiny-model training {speed:8.0f} useful tokens/s")


def main() -> None:
    torch.set_num_threads(1)
    items = length_mix()
    share, rows, mean = packed_share(items)
    print(f"DriveLM-like mix ({len(items)} samples): packed useful {share * 100:.1f}% "
          f"({rows} rows, mean {mean:.0f} tokens of 16384), padded batch 4 "
          f"{padded_share(items, 4) * 100:.1f}%, reference unpacked (pad to 8192) "
          f"{sum(t for t, _ in items) / (8192 * len(items)) * 100:.1f}%")
    print(f"  row fill vs the 16384-token budget: {mean / 16384 * 100:.1f}%")
    if META.is_file():
        sample_data_comparison()
    else:
        print(f"{META} missing: run `make demo` for the sample-data comparison")


if __name__ == "__main__":
    main()
