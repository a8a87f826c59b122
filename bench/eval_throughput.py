"""Samples/s of batched evaluation (batch 8) vs batch 1 on the tiny model; outputs identical.

Uses the sample's RSVQA-LR test split (run `make demo` first). One run, 1 torch thread.

    .venv/bin/python bench/eval_throughput.py
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from internvl_da.eval.generate import GenerationSettings, generate_ids
from internvl_da.eval.rsvqa import load as load_rsvqa
from internvl_da.model.tiny import build_tiny_model

ANNOTATION = Path("data/sample/InternVL-Domain-Adaptation-Data/val/rsvqa_l_test_instruct.json")
IMAGES = Path("data/sample/InternVL-Domain-Adaptation-Data/images/RSVQA_L/Images_LR")


def run(model, tok, settings, items, batch_size):
    out, start = [], time.perf_counter()
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        out += generate_ids(model, tok, settings, [c["question"] for c in chunk],
                            [c["image"] for c in chunk])
    return out, len(items) / (time.perf_counter() - start)


def main() -> None:
    torch.set_num_threads(1)
    if not ANNOTATION.is_file():
        raise SystemExit(f"{ANNOTATION} missing: run `make demo` first")
    items = load_rsvqa(ANNOTATION, IMAGES)[:64]
    model, tok = build_tiny_model("qwen2", seed=0)
    with torch.no_grad():  # varied outputs of full length, as a trained model would give
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0, 0.3)
    model.eval()
    settings = GenerationSettings("Hermes-2", image_size=64, tokens_per_tile=4, max_num=12,
                                  max_new_tokens=10)
    run(model, tok, settings, items[:8], 8)  # warm-up
    one, rate1 = run(model, tok, settings, items, 1)
    eight, rate8 = run(model, tok, settings, items, 8)
    print(f"{len(items)} RSVQA-LR samples: batch 1 {rate1:.1f} samples/s, batch 8 "
          f"{rate8:.1f} samples/s -> {rate8 / rate1:.2f}x; identical outputs: {one == eight}")


if __name__ == "__main__":
    main()
