"""The Hugging Face Trainer, taught the recipe's loss, optimizer groups and data stream.

- compute_loss: drop the text-only dummy tiles (image_flags == 0) before the forward, keep the
  vision tower in the graph with a zero-weighted term when a batch has no real tile (what the
  reference's dummy tile is for), and return the weighted loss of train/loss.py; the Trainer
  divides by gradient accumulation exactly once (`loss_is_scaled_for_ga = False`).
- create_optimizer: the recipe's single AdamW group with weight decay on every trainable
  parameter (spec §7), or the usual no-decay grouping when asked.
- get_train_dataloader: our own packed / padded stream, sharded by rank inside the dataset.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch
from transformers import Trainer

from internvl_da.data.packing import padding_stats
from internvl_da.data.tokens import IGNORE_INDEX
from internvl_da.fileio import write_json
from internvl_da.train.loss import weighted_lm_loss
from internvl_da.train.modules import parts, set_frozen_eval


def optimizer_groups(model, weight_decay: float, decay_all: bool) -> list[dict]:
    """One group with every trainable parameter (recipe), or decay / no-decay groups."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if decay_all:
        return [{"params": [p for _, p in trainable], "weight_decay": weight_decay}]
    groups = [{"params": [], "weight_decay": weight_decay}, {"params": [], "weight_decay": 0.0}]
    for name, param in trainable:  # biases, norms and other vectors: no decay
        exempt = param.ndim < 2 or "norm" in name or "bias" in name
        groups[exempt]["params"].append(param)
    return groups


class InternVLTrainer(Trainer):
    loss_is_scaled_for_ga = False
    stream = None  # the stateful packed stream, when training uses one
    resume_stream_state: dict | None = None

    def __init__(self, *args, train_config, frozen=(), train_loader_factory=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_config = train_config
        self.frozen = list(frozen)
        self.train_loader_factory = train_loader_factory

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        set_frozen_eval(self.frozen)  # Trainer calls model.train() before each step
        inputs = dict(inputs)
        labels, weights = inputs.pop("labels"), inputs.pop("loss_weight")
        flags, pixel_values = inputs.pop("image_flags"), inputs.pop("pixel_values")
        self._count_tokens(inputs, labels)
        inputs.pop("sample_lengths", None)
        real = pixel_values[flags == 1]  # (tiles with an image, 3, S, S)
        if getattr(model.config, "_attn_implementation", "").startswith("flash"):
            inputs.pop("attention_mask", None)  # varlen attention from per-sample position ids
        outputs = model(**inputs, pixel_values=real if len(real) else None, use_cache=False)
        loss = weighted_lm_loss(outputs.logits, labels, weights)
        if not len(real):
            vit = parts(model)["vit"]
            dummy = pixel_values[:1].to(next(vit.parameters()).dtype)
            loss = loss + 0.0 * vit(pixel_values=dummy).last_hidden_state.sum()
        return (loss, outputs) if return_outputs else loss

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        # transformers saves InternVL under its legacy key names; the Trainer's resume path
        # loads the file verbatim and silently matches nothing. Load through from_pretrained,
        # which applies the key mapping, and fail if any tensor is left out.
        model = model or self.model
        if hasattr(model, "get_base_model") or self.is_deepspeed_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        loaded = type(model).from_pretrained(resume_from_checkpoint, dtype=model.dtype)
        result = model.load_state_dict(loaded.state_dict(), strict=False)
        missing = [k for k in result.missing_keys if k not in ("lm_head.weight",)]
        if missing or result.unexpected_keys:
            raise RuntimeError(f"{resume_from_checkpoint}: checkpoint does not match the "
                               f"model (missing {missing[:5]}, unexpected "
                               f"{result.unexpected_keys[:5]})")

    _tokens = _useful = _supervised = 0
    _since: float | None = None

    def _count_tokens(self, inputs: dict, labels: torch.Tensor) -> None:
        """Token counts since the last log: throughput and padding ratio (packed or padded)."""
        if self._since is None:
            self._since = time.perf_counter()
        stats = padding_stats(inputs)
        self._tokens += stats["tokens"]
        self._useful += stats["useful"]
        self._supervised += int((labels != IGNORE_INDEX).sum())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self._since is not None and "loss" in logs and self._tokens:
            seconds = max(time.perf_counter() - self._since, 1e-9)
            logs["tokens_per_second"] = round(self._useful / seconds, 1)
            logs["padding_ratio"] = round(1 - self._useful / self._tokens, 4)
            logs["supervised_tokens"] = self._supervised
            self._tokens = self._useful = self._supervised = 0
            self._since = time.perf_counter()
        super().log(logs, start_time)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            cfg = self.train_config
            groups = optimizer_groups(self.model, cfg.weight_decay, cfg.decay_all_parameters)
            self.optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate,
                                               betas=cfg.adam_betas, eps=cfg.adam_eps)
        return self.optimizer

    def get_train_dataloader(self):
        if self.train_loader_factory is None:
            return super().get_train_dataloader()
        loader = self.train_loader_factory(self.args.process_index, self.args.world_size)
        self.stream = loader.dataset if hasattr(loader.dataset, "state_dict") else None
        if self.stream is not None and self.resume_stream_state is not None:
            self.stream.load_state_dict(self.resume_stream_state)
        return loader

    def stream_state_file(self, checkpoint: str | os.PathLike) -> Path:
        return Path(checkpoint) / f"stream_state_rank{self.args.process_index}.json"

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.stream is not None:  # O(1) resume: the stream's exact position
            folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
            write_json(self.stream_state_file(folder), self.stream.state_dict())

    def train(self, resume_from_checkpoint=None, **kwargs):
        if resume_from_checkpoint and self.stream_state_file(resume_from_checkpoint).is_file():
            path = self.stream_state_file(resume_from_checkpoint)
            self.resume_stream_state = json.loads(path.read_text())
            self.args.ignore_data_skip = True  # the stream continues from its saved state
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
