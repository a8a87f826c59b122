"""Training settings: the DA recipe (spec training.md §1–§7) as one frozen dataclass.

`recipe(size, domain)` merges the shared settings with the per-(size, domain) values of the
twelve reference launch scripts (§3). The pipeline issue moves these values into params.yaml
with the same keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

DOMAINS = ("drivelm", "medical", "remote")

# (max_steps, gradient_accumulation_steps) per domain (§3; identical for the three sizes).
DOMAIN_STEPS = {"drivelm": (15100, 1), "medical": (2200, 8), "remote": (2500, 8)}
# (save_steps, save_total_limit) per (size, domain) where the scripts differ from 700 / 3.
SAVE_OVERRIDES = {("1b", "remote"): (500, 3), ("2b", "remote"): (500, 7)}


# The tiny in-process model on the sample data: minutes on 2 CPU cores instead of GPU-days.
TINY_PROFILE = dict(max_steps=300, gradient_accumulation_steps=1, learning_rate=2e-3,
                    save_steps=100, save_total_limit=2, max_seq_length=2048,
                    max_packed_tokens=4096, gradient_checkpointing=False, drop_path_rate=0.0)


@dataclass(frozen=True)
class TrainConfig:
    size: str = "tiny"
    domain: str = "remote"
    max_steps: int = 2500
    gradient_accumulation_steps: int = 8
    per_device_batch_size: int = 1  # one packed sequence per GPU per micro-step
    learning_rate: float = 1e-5
    weight_decay: float = 0.01
    decay_all_parameters: bool = True  # recipe: one group; False = usual no-decay grouping
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    warmup_ratio: float = 0.03
    lr_scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = True
    drop_path_rate: float = 0.1
    max_seq_length: int = 8192
    max_dynamic_patch: int = 12
    min_dynamic_patch: int = 1
    use_thumbnail: bool = True
    packing: bool = True
    max_packed_tokens: int = 16384
    max_packed_tiles: int = 48
    max_buffers: int = 20
    loss_reduction: str = "square"
    save_steps: int = 700
    save_total_limit: int = 3
    seed: int = 42
    num_workers: int = 0
    freeze_vit: bool = False
    freeze_mlp: bool = False
    freeze_llm: bool = False
    unfreeze_vit_layers: int = 0  # with freeze_vit: train the last K vision layers
    lora_llm: int = 0  # LoRA rank on the LLM (alpha 2r, dropout 0.05); 0 = off
    lora_vit: int = 0
    merge_lora: bool = True  # save a merged native checkpoint at the end
    deepspeed_stage: int = 0  # 0 = no DeepSpeed; 1 (recipe), 2, 3
    logging_steps: int = 1

    @property
    def warmup_steps(self) -> int:
        """HF's cosine schedule with ceil(warmup_ratio * max_steps) warmup steps (§5)."""
        return math.ceil(self.warmup_ratio * self.max_steps)


def recipe(size: str, domain: str, **overrides) -> TrainConfig:
    """The reference script's settings for (size, domain), then `overrides`."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose from {DOMAINS}")
    steps, accumulation = DOMAIN_STEPS[domain]
    save_steps, save_limit = SAVE_OVERRIDES.get((size, domain), (700, 3))
    base = TrainConfig(size=size, domain=domain, max_steps=steps,
                       gradient_accumulation_steps=accumulation, save_steps=save_steps,
                       save_total_limit=save_limit)
    if size.startswith("tiny"):
        base = replace(base, **TINY_PROFILE)
    unknown = set(overrides) - set(TrainConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown training settings: {sorted(unknown)}")
    return replace(base, **overrides)
