"""The Hugging Face Trainer, taught the recipe's loss, optimizer groups and data stream.

- compute_loss: drop the text-only dummy tiles (image_flags == 0) before the forward, keep the
  vision tower in the graph with a zero-weighted term when a batch has no real tile (what the
  reference's dummy tile is for), and return the weighted loss of train/loss.py; the Trainer
  divides by gradient accumulation exactly once (`loss_is_scaled_for_ga = False`).
- create_optimizer: the recipe's single AdamW group with weight decay on every trainable
  parameter (spec §7), or the usual no-decay grouping when asked — in force under DeepSpeed
  too. transformers' `deepspeed_init` hands DeepSpeed a `DummyOptim` holding every trainable
  parameter as ONE group whenever the ZeRO config has an `optimizer` block (our zero1.json, as
  the reference's), and calls `create_optimizer` only without one; `_prepare_for_training`
  then calls `create_optimizer` once more, where the DummyOptim's params are replaced by the
  project's groups. accelerate passes them to `deepspeed.initialize(model_parameters=...)`,
  which builds the config's optimizer (DeepSpeed AdamW) over these groups, each with its own
  weight decay. Without an optimizer block the groups go into torch AdamW, which DeepSpeed
  wraps.
- get_train_dataloader: our own packed / padded stream, sharded by rank inside the dataset;
  the packed stream's position of every DataLoader worker rides along with each batch
  (`stream_state`) and is saved with every checkpoint for O(1) resume.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import torch
from transformers import Trainer

from internvl_da.data.packing import padding_stats
from internvl_da.data.stream import check_resume, resume_state
from internvl_da.data.tokens import IGNORE_INDEX
from internvl_da.fileio import write_json
from internvl_da.train.checkpoints import MARKER, rotate, write_marker
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
    resume_stream_state: dict | None = None

    def __init__(self, *args, train_config, frozen=(), train_loader_factory=None,
                 identity: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_config = train_config
        # what the completion marker records (train/checkpoints.py); a resume must match it
        self.identity = identity or {"train_config": dataclasses.asdict(train_config)}
        self.frozen = list(frozen)
        self.train_loader_factory = train_loader_factory
        self.stream_tags: dict[int, dict] = {}  # global worker -> its last consumed state
        self.last_shard: int | None = None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        set_frozen_eval(self.frozen)  # Trainer calls model.train() before each step
        inputs = dict(inputs)
        if (tag := inputs.pop("stream_state", None)) is not None:
            self.stream_tags[tag["shard"]] = tag["state"]
            self.last_shard = tag["shard"]
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
        cfg = self.train_config
        groups = optimizer_groups(self.model, cfg.weight_decay, cfg.decay_all_parameters)
        if type(self.optimizer).__name__ == "DummyOptim":  # DeepSpeed builds it from these
            self.optimizer.params = groups
        elif self.optimizer is None:
            self.optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate,
                                               betas=cfg.adam_betas, eps=cfg.adam_eps)
        return self.optimizer

    def get_train_dataloader(self):
        if self.train_loader_factory is None:
            return super().get_train_dataloader()
        return self.train_loader_factory(self.args.process_index, self.args.world_size,
                                         self.resume_stream_state)

    def stream_state_file(self, checkpoint: str | os.PathLike) -> Path:
        return Path(checkpoint) / f"stream_state_rank{self.args.process_index}.json"

    def _save_checkpoint(self, model, trial):
        """The Trainer's checkpoint, our stream state, then the completion marker LAST (after
        every rank has written), then rotation — which must come after the marker, or a kill
        between the Trainer's rotation and the marker could leave no complete checkpoint."""
        folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
        if self.args.should_save and (folder / MARKER).exists():
            (folder / MARKER).unlink()  # overwritten below: not complete until re-marked
        limit, self.args.save_total_limit = self.args.save_total_limit, None
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = limit
        if self.stream_tags:  # O(1) resume: every worker's exact position
            state = resume_state(self.stream_tags, self.last_shard, self.args.process_index,
                                 self.args.world_size, self.train_config.num_workers)
            write_json(self.stream_state_file(folder), state)
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            write_marker(folder, self.state.global_step, self.identity)
            rotate(self.args.output_dir, limit)

    def train(self, resume_from_checkpoint=None, **kwargs):
        if resume_from_checkpoint and self.stream_state_file(resume_from_checkpoint).is_file():
            path = self.stream_state_file(resume_from_checkpoint)
            self.resume_stream_state = json.loads(path.read_text())
            check_resume(self.resume_stream_state, self.args.process_index,
                         self.args.world_size, self.train_config.num_workers)
            self.stream_tags = {int(g): st for g, st in
                                self.resume_stream_state["shards"].items()}
            self.args.ignore_data_skip = True  # the stream continues from its saved state
        return super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
