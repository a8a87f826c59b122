"""Fine-tuning: wire model, data and the Trainer for one (size, domain) run.

`finetune(cfg, meta_path, output_dir)` checks every input before expensive work, builds the
model (tiny in-process, or a native checkpoint), applies drop-path, freezing and LoRA, builds
the packed (or padded) stream from the meta file and runs the Hugging Face Trainer with the
recipe's settings. The final model (LoRA merged when asked), tokenizer and a run manifest are
written to `output_dir`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from functools import partial
from importlib import resources
from pathlib import Path

import torch

from internvl_da import repro
from internvl_da.data.dataset import SampleSettings, build_datasets
from internvl_da.data.formats import load_meta
from internvl_da.data.packing import collate_packed, collate_padded
from internvl_da.data.stream import WorkerStreams
from internvl_da.fileio import staged_folder, write_text_atomic
from internvl_da.model.convert import carry_original_files
from internvl_da.model.drop_path import enable_drop_path
from internvl_da.model.registry import get_size
from internvl_da.train.checkpoints import apply_plan, plan_start
from internvl_da.train.modules import apply_freezing, apply_lora, check_options
from internvl_da.train.recipe import TrainConfig, accumulation_steps


def build_model(size: str, checkpoint: str | None, seed: int):
    spec = get_size(size)
    if spec.hub_id is None:  # the in-process tiny sizes
        from internvl_da.model.tiny import build_tiny_model

        model, tokenizer = build_tiny_model(spec.llm_family, seed=seed)
        return model, tokenizer, spec
    if checkpoint is None:
        raise ValueError(f"size {size!r} needs --checkpoint DIR (a native checkpoint; "
                         f"convert {spec.hub_id} with `internvl-da convert`)")
    from internvl_da.model.load import load_native

    model, tokenizer = load_native(checkpoint)
    return model, tokenizer, spec


def check_inputs(cfg: TrainConfig, meta_path: str | Path, tokens_per_tile: int) -> dict:
    """Everything that can be wrong before the model is built."""
    check_options(cfg)
    accumulation_steps(cfg, world_size_from_env())  # the global batch fits this GPU count
    meta = load_meta(meta_path)
    for entry in meta.values():
        if not os.path.isfile(entry.annotation):
            raise FileNotFoundError(f"{meta_path}: dataset {entry.name!r}: annotation "
                                    f"{entry.annotation} not found")
        if not entry.root.startswith("s3://") and not os.path.isdir(entry.root):
            raise FileNotFoundError(f"{meta_path}: dataset {entry.name!r}: image root "
                                    f"{entry.root} not found")
    if cfg.max_seq_length < tokens_per_tile + 2:
        raise ValueError(f"max_seq_length {cfg.max_seq_length} cannot hold one image tile "
                         f"({tokens_per_tile} tokens + 2)")
    if cfg.packing and cfg.max_seq_length > cfg.max_packed_tokens:
        raise ValueError("max_seq_length must not exceed max_packed_tokens")
    return meta


class Endless(torch.utils.data.IterableDataset):
    """Pass after pass of an unpacked stream, so the Trainer sees one epoch of `max_steps`
    batches (the Trainer counts an iterable's epoch as max_steps batches; a stream that ended
    earlier would make resuming skip the wrong batches)."""

    def __init__(self, make_pass):
        super().__init__()
        self.make_pass = make_pass

    def __iter__(self):
        for n in itertools.count():
            empty = True
            for item in self.make_pass(n):
                empty = False
                yield item
            if empty:
                raise ValueError("the training data yields no sample")


def _shuffled_shard(datasets, rank: int, world_size: int, seed: int):
    combined = torch.utils.data.ConcatDataset(datasets)

    def one_pass(n: int):
        for dataset in datasets:  # JPEG augmentation drawn anew each pass
            dataset.set_epoch(n)
        order = torch.randperm(len(combined), generator=torch.Generator().manual_seed(seed + n))
        for i in order[rank::world_size].tolist():
            yield combined[i]
    return one_pass


def make_loader_factory(datasets, cfg: TrainConfig, pad_token_id: int):
    """`factory(rank, world_size, resume=None)` -> the rank's DataLoader.

    Packed: `cfg.num_workers` workers per rank, each the reference's packed stream of one
    global worker (spec §14), resumed in O(1) from `resume` (the checkpoint's stream file).
    Unpacked: a seeded shuffle per pass; resuming replays (the Trainer skips batches).
    """
    # Each loader has its own generator: creating its iterator must not draw from the global
    # RNG, or a resumed run (RNG restored before the iterator exists) would drift by one draw.
    def loader(dataset, collate):
        return torch.utils.data.DataLoader(
            dataset, batch_size=cfg.per_device_batch_size, num_workers=cfg.num_workers,
            collate_fn=collate, generator=torch.Generator().manual_seed(cfg.seed))

    def factory(rank: int, world_size: int, resume: dict | None = None):
        if cfg.packing:
            stream = WorkerStreams(datasets, cfg.loss_reduction, cfg.max_packed_tokens,
                                   cfg.max_packed_tiles, cfg.max_buffers, rank, world_size,
                                   workers=cfg.num_workers, seed=cfg.seed, resume=resume)
            return loader(stream, partial(collate_packed, pad_token_id=pad_token_id))
        return loader(Endless(_shuffled_shard(datasets, rank, world_size, cfg.seed)),
                      lambda s: collate_padded(s, pad_token_id, cfg.loss_reduction))
    return factory


def deepspeed_config(stage: int) -> str | None:
    if stage == 0:
        return None
    if stage not in (1, 2, 3):
        raise ValueError(f"deepspeed_stage must be 0 (off), 1, 2 or 3, got {stage}")
    return str(resources.files("internvl_da.train") / "deepspeed" / f"zero{stage}.json")


def world_size_from_env() -> int:
    """GPUs (processes) of this run, as torchrun / the DeepSpeed launcher / Slurm set it."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def training_arguments(cfg: TrainConfig, output_dir: str | Path, report_to: list[str],
                       world_size: int = 1):
    """The Trainer's arguments; accumulation keeps the recipe's global batch on `world_size`
    GPUs (it must be right here: DeepSpeed's "auto" values are filled from these)."""
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=str(output_dir), max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=accumulation_steps(cfg, world_size),
        learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay,
        adam_beta1=cfg.adam_betas[0], adam_beta2=cfg.adam_betas[1], adam_epsilon=cfg.adam_eps,
        warmup_steps=cfg.warmup_steps, lr_scheduler_type=cfg.lr_scheduler,
        max_grad_norm=cfg.max_grad_norm, logging_steps=cfg.logging_steps,
        save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit,
        seed=cfg.seed, data_seed=cfg.seed, bf16=cuda, use_cpu=not cuda, report_to=report_to,
        # transformers 5.24 renamed gradient_checkpointing* (the old names warn FutureWarning)
        remove_unused_columns=False, activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        deepspeed=deepspeed_config(cfg.deepspeed_stage), disable_tqdm=False,
        dataloader_num_workers=cfg.num_workers)


class DataCheckError(ValueError):
    """The training data has problems; raised before the model is built."""


def validate_data(meta_path: str | Path, cfg: TrainConfig, spec) -> None:
    """Every line of every dataset, as `data check` checks it (structure, roles, tags, image
    paths and headers, repeat_time keeping >= 1 line) before the first step: a bad line fails
    here with file:line, not at step 184 (issue 11, item 6). Images are not decoded and
    lengths not tokenized (the pipeline's validate stage does both)."""
    from internvl_da.data.validate import check_meta_datasets

    reports = check_meta_datasets(meta_path, max_num=cfg.max_dynamic_patch,
                                  tokens_per_tile=spec.tokens_per_tile,
                                  image_size=spec.image_size, decode_images=False)
    problems = [p for r in reports for p in r.problems]
    if problems:
        shown = "\n".join(str(p) for p in problems[:5])
        more = f"\n... and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise DataCheckError(f"{meta_path}: {len(problems)} problems in the training data "
                             f"(`internvl-da data check {meta_path}` lists them all):\n"
                             f"{shown}{more}")


def run_identity(cfg: TrainConfig, meta_path: str | Path, checkpoint: str | None) -> dict:
    """What a checkpoint records about the run that made it; a resume must match it."""
    return {"train_config": dataclasses.asdict(cfg), "meta": str(meta_path),
            "base_checkpoint": checkpoint}


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def finetune(cfg: TrainConfig, meta_path: str | Path, output_dir: str | Path,
             checkpoint: str | None = None, resume: bool = False,
             report_to: list[str] | None = None, live_dir: str | Path | None = None, *,
             force: bool = False, fresh_if_none: bool = False, log=print) -> dict:
    """Run one fine-tune; returns the final training metrics.

    `live_dir`: log loss, lr, grad norm, tokens/s and padding ratio with dvclive into that folder
    (no DVC experiment of its own and no dvc.yaml: the pipeline's dvc.yaml declares the plots).
    `resume`: continue from the newest complete checkpoint (train/checkpoints.py: an error if
    there is none, unless `fresh_if_none`); without it, existing checkpoints are an error
    unless `force`, which deletes them. `log` receives the one-line notes (which checkpoint).
    """
    from transformers.trainer_callback import ProgressCallback

    from internvl_da.train.console import JsonlLog, QuietProgress
    from internvl_da.train.trainer import InternVLTrainer

    spec = get_size(cfg.size)
    meta = check_inputs(cfg, meta_path, spec.tokens_per_tile)
    validate_data(meta_path, cfg, spec)
    identity = run_identity(cfg, meta_path, checkpoint)
    plan = plan_start(output_dir, identity, resume, fresh_if_none, force)
    for message in plan.messages:
        log(message)
    if _is_main_process():
        apply_plan(plan)
    envelope = repro.configure(cfg.seed, threads=torch.get_num_threads())
    model, tokenizer, spec = build_model(cfg.size, checkpoint, cfg.seed)
    model.config.use_cache = False
    enable_drop_path(model, cfg.drop_path_rate)
    model = apply_lora(model, cfg)
    frozen = apply_freezing(model, cfg)
    settings = SampleSettings(template=spec.template, image_size=spec.image_size,
                              tokens_per_tile=spec.tokens_per_tile, max_num=cfg.max_dynamic_patch,
                              min_num=cfg.min_dynamic_patch, use_thumbnail=cfg.use_thumbnail,
                              max_length=cfg.max_seq_length, seed=cfg.seed)
    datasets = build_datasets(meta, tokenizer, settings, shuffle=True)
    trainer = InternVLTrainer(
        model=model,
        args=training_arguments(cfg, output_dir, report_to or [], world_size_from_env()),
        train_config=cfg, frozen=frozen, identity=identity,
        train_loader_factory=make_loader_factory(datasets, cfg, tokenizer.pad_token_id),
        callbacks=[*_live_callbacks(live_dir), JsonlLog(output_dir)])
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(QuietProgress())
    result = trainer.train(resume_from_checkpoint=plan.checkpoint)
    _save_final(trainer, tokenizer, cfg, output_dir, checkpoint)
    _write_manifest(output_dir, cfg, meta_path, envelope, trainer)
    return dict(result.metrics)


def _live_callbacks(live_dir: str | Path | None) -> list:
    if live_dir is None:
        return []
    from dvclive import Live
    from transformers.integrations import DVCLiveCallback

    return [DVCLiveCallback(live=Live(str(live_dir), save_dvc_exp=False, dvcyaml=False))]


def _save_final(trainer, tokenizer, cfg: TrainConfig, output_dir: str | Path,
                checkpoint: str | None) -> None:
    """final/ (and adapter/) built in a staging sibling, fsynced and renamed: a kill or a full
    disk leaves the previous folder or none, never a half-written model (issue 11)."""
    if not trainer.is_world_process_zero():
        return
    model = trainer.model
    if hasattr(model, "merge_and_unload") and cfg.merge_lora:
        with staged_folder(Path(output_dir) / "adapter") as staging:
            model.save_pretrained(staging)
        model = model.merge_and_unload()
    with staged_folder(Path(output_dir) / "final") as staging:
        model.save_pretrained(staging)
        # a converted checkpoint: its original files (what `convert --to-internvl` and
        # load_native need) and top-level tokenizer files travel as they are; else the
        # tokenizer saves itself
        if checkpoint is None or not carry_original_files(checkpoint, staging):
            tokenizer.save_pretrained(staging)


def _write_manifest(output_dir, cfg, meta_path, envelope, trainer) -> None:
    if not trainer.is_world_process_zero():
        return
    from internvl_da.manifest import run_manifest

    manifest = run_manifest(config=dataclasses.asdict(cfg), inputs={"meta": str(meta_path)},
                            envelope=dataclasses.asdict(envelope),
                            extra={"world_size": trainer.args.world_size,
                                   "gradient_accumulation_steps":
                                       trainer.args.gradient_accumulation_steps,
                                   "global_batch_size": cfg.global_batch_size})
    write_text_atomic(Path(output_dir) / "run_manifest.json",
                      json.dumps(manifest, indent=1, sort_keys=True) + "\n")
