"""Fine-tuning on the tiny model: loss goes down, freezing, LoRA, determinism, resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from transformers import InternVLForConditionalGeneration, TrainerCallback

from internvl_da.train.finetune import finetune
from internvl_da.train.recipe import recipe

FAST = dict(max_steps=4, gradient_accumulation_steps=1, learning_rate=2e-3, warmup_ratio=0.0,
            save_steps=1000, max_seq_length=512, max_packed_tokens=600, max_packed_tiles=12,
            gradient_checkpointing=False, seed=3, drop_path_rate=0.1)


def train(meta, out, size="tiny", **overrides):
    cfg = recipe(size, "remote", **{**FAST, **overrides})
    metrics = finetune(cfg, meta, out)
    return metrics, final_state(out)


def final_state(out) -> dict[str, torch.Tensor]:
    """The saved model's tensors under the in-memory names (saving renames some keys)."""
    model = InternVLForConditionalGeneration.from_pretrained(Path(out) / "final")
    return model.state_dict()


def weights_hash(out) -> str:
    return hashlib.sha256((Path(out) / "final" / "model.safetensors").read_bytes()).hexdigest()


def initial_weights(size="tiny"):
    from internvl_da.model.registry import get_size
    from internvl_da.model.tiny import build_tiny_model

    model, _ = build_tiny_model(get_size(size).llm_family, seed=FAST["seed"])
    return {k: v.clone() for k, v in model.state_dict().items()}


class LossLog(TrainerCallback):
    def __init__(self):
        self.losses, self.logs = [], []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))
            self.logs.append(dict(logs))


@pytest.mark.parametrize("size", ["tiny", "tiny-llama", "tiny-phi3"])
def test_loss_goes_down_every_family(toy_meta, tmp_path, size, monkeypatch):
    log = LossLog()
    from internvl_da.train import trainer as trainer_module

    original = trainer_module.InternVLTrainer.__init__

    def with_log(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.add_callback(log)

    monkeypatch.setattr(trainer_module.InternVLTrainer, "__init__", with_log)
    _, final = train(toy_meta, tmp_path / "run", size=size, max_steps=8)
    assert len(log.losses) == 8
    assert all(entry["tokens_per_second"] > 0 and entry["padding_ratio"] == 0.0
               and entry["supervised_tokens"] > 0 for entry in log.logs)  # packed: no padding
    assert sum(log.losses[-3:]) / 3 < sum(log.losses[:3]) / 3
    assert (tmp_path / "run" / "run_manifest.json").is_file()
    assert any(not torch.equal(final[k], v) for k, v in initial_weights(size).items()
               if "vision_tower" in k)


def test_same_seed_same_bytes(toy_meta, tmp_path):
    train(toy_meta, tmp_path / "a")
    train(toy_meta, tmp_path / "b")
    assert weights_hash(tmp_path / "a") == weights_hash(tmp_path / "b")


@pytest.mark.parametrize("flag,frozen_prefix", [
    ("freeze_vit", "model.vision_tower."),
    ("freeze_mlp", "model.multi_modal_projector."),
    ("freeze_llm", "model.language_model."),
])
def test_freezing_leaves_frozen_tensors_byte_identical(toy_meta, tmp_path, flag, frozen_prefix):
    _, final = train(toy_meta, tmp_path / "run", **{flag: True})
    start = initial_weights()
    frozen = [k for k in start if k.startswith(frozen_prefix)]
    trained = [k for k in start if not k.startswith(frozen_prefix) and "lm_head" not in k]
    assert frozen and all(torch.equal(final[k], start[k]) for k in frozen)
    assert any(not torch.equal(final[k], start[k]) for k in trained)


def test_unfreeze_last_vit_layers(toy_meta, tmp_path):
    _, final = train(toy_meta, tmp_path / "run", freeze_vit=True, unfreeze_vit_layers=1)
    start = initial_weights()
    layer0 = [k for k in start if "vision_tower.encoder.layer.0." in k]
    layer1 = [k for k in start if "vision_tower.encoder.layer.1." in k]
    assert all(torch.equal(final[k], start[k]) for k in layer0)
    assert any(not torch.equal(final[k], start[k]) for k in layer1)


def test_lora_trains_only_adapters_and_merges(toy_meta, tmp_path):
    _, final = train(toy_meta, tmp_path / "run", lora_llm=4, freeze_vit=True, freeze_mlp=True,
                     learning_rate=1e-2)
    start = initial_weights()
    assert set(final) == set(start)  # merged: a plain native checkpoint, no lora tensors
    changed = [k for k in start if k in final and not torch.equal(final[k], start[k])]
    assert changed and all("language_model" in k for k in changed)
    assert all(k.endswith("proj.weight") for k in changed)  # merged LoRA deltas only
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()


class StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt("simulated kill")


@pytest.mark.parametrize("workers", [0, 2])
def test_kill_and_resume_gives_identical_weights(toy_meta, tmp_path, monkeypatch, workers):
    """O(1) resume in the training process and with DataLoader workers (paper profile: one
    packed shard per worker, each continuing from its saved state)."""
    train(toy_meta, tmp_path / "full", max_steps=6, save_steps=3, num_workers=workers)
    from internvl_da.train import trainer as trainer_module

    original = trainer_module.InternVLTrainer.__init__

    def killing(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.add_callback(StopAt(4))

    monkeypatch.setattr(trainer_module.InternVLTrainer, "__init__", killing)
    with pytest.raises(KeyboardInterrupt):
        train(toy_meta, tmp_path / "killed", max_steps=6, save_steps=3, num_workers=workers)
    monkeypatch.setattr(trainer_module.InternVLTrainer, "__init__", original)
    saved = json.loads((tmp_path / "killed" / "checkpoint-3" / "stream_state_rank0.json")
                       .read_text())
    assert saved["workers"] == workers and len(saved["shards"]) == max(1, workers)
    cfg = recipe("tiny", "remote", **{**FAST, "max_steps": 6, "save_steps": 3,
                                      "num_workers": workers})
    finetune(cfg, toy_meta, tmp_path / "killed", resume=True)
    assert weights_hash(tmp_path / "killed") == weights_hash(tmp_path / "full")
