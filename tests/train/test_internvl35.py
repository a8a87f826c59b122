"""The tiny InternVL3.5 (Qwen3, internvl2_5 template) trains through the project's finetune:
loss goes down, packed == separate per-sample losses, freeze and LoRA variants (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import InternVLForConditionalGeneration, TrainerCallback

from internvl_da.data.packing import collate_packed, concat_samples, loss_weights
from internvl_da.data.templates import encode_conversation
from internvl_da.model.families import get_model
from internvl_da.model.tiny import build_tiny_model
from internvl_da.train.finetune import finetune
from internvl_da.train.loss import weighted_lm_loss
from internvl_da.train.recipe import recipe

SIZE = get_model("internvl3.5", "tiny").name  # the registry key finetune resolves
FAST = dict(max_steps=4, gradient_accumulation_steps=1, learning_rate=2e-3, warmup_ratio=0.0,
            save_steps=1000, max_seq_length=512, max_packed_tokens=600, max_packed_tiles=12,
            gradient_checkpointing=False, seed=3, drop_path_rate=0.1)


class LossLog(TrainerCallback):
    def __init__(self):
        self.losses = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))


def train(meta, out, **overrides):
    finetune(recipe(SIZE, "remote", **{**FAST, **overrides}), meta, out)
    return InternVLForConditionalGeneration.from_pretrained(Path(out) / "final").state_dict()


def initial():
    model, _ = build_tiny_model("qwen3", seed=FAST["seed"])
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_loss_goes_down_and_the_untied_head_trains(toy_meta, tmp_path, monkeypatch):
    from internvl_da.train import trainer as trainer_module

    log, original = LossLog(), trainer_module.InternVLTrainer.__init__

    def with_log(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.add_callback(log)

    monkeypatch.setattr(trainer_module.InternVLTrainer, "__init__", with_log)
    final = train(toy_meta, tmp_path / "run", max_steps=8)
    assert len(log.losses) == 8 and sum(log.losses[-3:]) < sum(log.losses[:3])
    start = initial()
    assert not torch.equal(final["lm_head.weight"], start["lm_head.weight"])
    assert not torch.equal(final["lm_head.weight"],
                           final["model.language_model.embed_tokens.weight"])
    assert any(not torch.equal(final[k], v) for k, v in start.items() if "vision_tower" in k)


def _sample(tok, question, answer, tiles):
    counts = [4 * tiles] if tiles else []
    conversation = [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
    ids, labels = encode_conversation(tok, "internvl2_5", conversation, counts)
    torch.manual_seed(len(ids))
    return {"id": question, "input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
            "pixel_values": torch.randn(max(tiles, 1), 3, 64, 64),
            "image_flags": torch.tensor([1] * tiles if tiles else [0])}


def test_packed_equals_separate_losses_with_the_3_5_template():
    """Two internvl2_5 samples packed by the project's collator give each sample the loss it
    has alone (block-diagonal attention, restarting positions, square weights)."""
    model, tok = build_tiny_model("qwen3", seed=1)
    model.eval()
    samples = [_sample(tok, "<image>\nIs there a red circle?", "yes", 2),
               _sample(tok, "Say something.", "Slow down and stop.", 0)]

    def loss_of(batch, labels, weights):
        flags, pixels = batch["image_flags"], batch["pixel_values"]
        real = pixels[flags == 1]
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids")
                  if k in batch}
        out = model(**inputs, pixel_values=real if len(real) else None)
        return out.logits, weighted_lm_loss(out.logits, labels, weights, False)

    with torch.no_grad():
        separate = []
        for s in samples:
            batch = collate_packed([concat_samples([s], "square")], tok.pad_token_id)
            separate.append(loss_of(batch, batch["labels"], batch["loss_weight"])[1])
        packed = collate_packed([concat_samples(samples, "square")], tok.pad_token_id)
        logits, _ = loss_of(packed, packed["labels"], packed["loss_weight"])
    n = len(samples[0]["input_ids"])
    for k, (lo, hi) in enumerate([(0, n), (n, logits.shape[1])]):
        labels = packed["labels"][:, lo:hi]
        weights = loss_weights(labels[0], "square")[None]
        alone = weighted_lm_loss(logits[:, lo:hi], labels, weights, False)
        assert torch.allclose(alone, separate[k], atol=1e-5), k


@pytest.mark.parametrize("flag,prefixes", [
    ("freeze_vit", ("model.vision_tower.",)),
    ("freeze_llm", ("model.language_model.", "lm_head.")),  # the untied head is LLM too
])
def test_freezing(toy_meta, tmp_path, flag, prefixes):
    final, start = train(toy_meta, tmp_path / "run", **{flag: True}), initial()
    frozen = [k for k in start if k.startswith(prefixes)]
    assert frozen and all(torch.equal(final[k], start[k]) for k in frozen)
    assert any(not torch.equal(final[k], start[k]) for k in start if k not in frozen)


def test_lora_on_qwen3_projections_merges(toy_meta, tmp_path):
    """LoRA on q_proj (128 x 64: head_dim x heads != hidden) and the other projections."""
    final = train(toy_meta, tmp_path / "run", lora_llm=4, freeze_vit=True, freeze_mlp=True,
                  learning_rate=1e-2)
    start = initial()
    assert set(final) == set(start)
    changed = [k for k in start if not torch.equal(final[k], start[k])]
    assert changed and all("language_model" in k and k.endswith("proj.weight") for k in changed)
    assert any(".q_proj." in k for k in changed)
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
