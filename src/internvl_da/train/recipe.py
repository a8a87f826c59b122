"""Training settings: the DA recipe (spec training.md §1–§7) as one frozen dataclass.

The values live in params.yaml (the single source); `recipe(size, domain)` resolves them for one
(size, domain): shared `train` settings, the tiny CPU profile, the per-script values of §3 and the
top-level user keys (internvl_da.params), then keyword overrides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    size: str
    domain: str
    max_steps: int
    gradient_accumulation_steps: int  # as written in the recipe, for `recipe_gpus` GPUs
    recipe_gpus: int  # GPUs the recipe's accumulation is written for (reference GPUS=8)
    per_device_batch_size: int  # one packed sequence per GPU per micro-step
    learning_rate: float
    weight_decay: float
    decay_all_parameters: bool  # recipe: one group; False = usual no-decay grouping
    adam_betas: tuple[float, float]
    adam_eps: float
    warmup_ratio: float
    lr_scheduler: str
    max_grad_norm: float
    gradient_checkpointing: bool
    drop_path_rate: float
    max_seq_length: int
    max_dynamic_patch: int
    min_dynamic_patch: int
    use_thumbnail: bool
    packing: bool
    max_packed_tokens: int
    max_packed_tiles: int
    max_buffers: int
    loss_reduction: str
    save_steps: int
    save_total_limit: int
    seed: int
    num_workers: int  # DataLoader workers per GPU (reference: 8); part of the data order
    freeze_vit: bool
    freeze_mlp: bool
    freeze_llm: bool
    unfreeze_vit_layers: int  # with freeze_vit: train the last K vision layers
    lora_llm: int  # LoRA rank on the LLM (alpha 2r, dropout 0.05); 0 = off
    lora_vit: int
    merge_lora: bool  # save a merged native checkpoint at the end
    deepspeed_stage: int  # 0 = no DeepSpeed; 1 (recipe), 2, 3
    logging_steps: int

    @property
    def warmup_steps(self) -> int:
        """HF's cosine schedule with ceil(warmup_ratio * max_steps) warmup steps (§5)."""
        return math.ceil(self.warmup_ratio * self.max_steps)

    @property
    def global_batch_size(self) -> int:
        """Packed sequences per optimizer step, the recipe's (spec §5: 8 x 1 x GA)."""
        return self.recipe_gpus * self.per_device_batch_size * self.gradient_accumulation_steps


def accumulation_steps(cfg: TrainConfig, world_size: int) -> int:
    """Gradient accumulation that keeps the recipe's global batch on `world_size` GPUs.

    The reference scripts derive GRADIENT_ACC = BATCH_SIZE / PER_DEVICE_BATCH_SIZE / GPUS
    (spec §2-§5); the DA scripts hard-code the result for GPUS=8. A run on other than
    `recipe_gpus` GPUs would otherwise silently change the global batch.
    """
    per_step = cfg.per_device_batch_size * world_size
    if world_size < 1 or cfg.global_batch_size % per_step:
        raise ValueError(
            f"the recipe's global batch of {cfg.global_batch_size} packed sequences "
            f"({cfg.recipe_gpus} GPUs x {cfg.per_device_batch_size} per GPU x "
            f"{cfg.gradient_accumulation_steps} accumulation steps) is not divisible by "
            f"{world_size} GPUs x {cfg.per_device_batch_size} per GPU; use a GPU count that "
            f"divides it or set recipe_gpus / gradient_accumulation_steps explicitly")
    return cfg.global_batch_size // per_step


def recipe(size: str, domain: str, params: dict | None = None, **overrides) -> TrainConfig:
    """The settings of (size, domain) from `params` (default: params.yaml), then `overrides`."""
    from internvl_da.params import check_override_types, load_params, train_settings

    settings = train_settings(params if params is not None else load_params(), size, domain)
    unknown = set(overrides) - set(TrainConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown training settings: {sorted(unknown)}")
    check_override_types(overrides)
    return TrainConfig(**{**settings, **overrides})
