"""Training building blocks: loss, optimizer groups, drop path, packing parity, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from internvl_da.data.packing import block_diagonal_causal_mask, loss_weights
from internvl_da.data.tokens import IGNORE_INDEX
from internvl_da.model.drop_path import DropPathVisionLayer, drop_path, enable_drop_path
from internvl_da.model.load import check_native_checkpoint, check_tokenizer
from internvl_da.model.tiny import build_tiny_model
from internvl_da.train.finetune import check_inputs, deepspeed_config
from internvl_da.train.loss import weighted_lm_loss
from internvl_da.train.modules import apply_freezing, apply_lora, check_options
from internvl_da.train.recipe import recipe
from internvl_da.train.trainer import optimizer_groups


def test_weighted_loss_matches_formula():
    torch.manual_seed(0)
    logits = torch.randn(1, 6, 11)
    labels = torch.tensor([[IGNORE_INDEX, 3, 4, IGNORE_INDEX, 5, 6]])
    weights = torch.tensor([[0, 0.5, 0.5, 0, 1.0, 1.0]])
    ce = torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:], reduction="none",
                                           ignore_index=IGNORE_INDEX)
    expected = (ce * weights[0, 1:]).sum() / weights[0, 1:].sum()
    assert torch.allclose(weighted_lm_loss(logits, labels, weights), expected)
    zero = weighted_lm_loss(logits, torch.full_like(labels, IGNORE_INDEX), torch.zeros(1, 6))
    assert zero.item() == 0.0


def test_optimizer_groups_recipe_and_usual():
    model, _ = build_tiny_model()
    trainable = [p for p in model.parameters() if p.requires_grad]
    (group,) = optimizer_groups(model, 0.01, decay_all=True)
    assert group["weight_decay"] == 0.01 and len(group["params"]) == len(trainable)
    decay, no_decay = optimizer_groups(model, 0.01, decay_all=False)
    assert no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(trainable)
    assert all(p.ndim >= 2 for p in decay["params"])


def test_drop_path_identity_in_eval_and_rate_in_training():
    x = torch.ones(4000, 3, 2)
    assert torch.equal(drop_path(x, 0.3, training=False), x)
    torch.manual_seed(0)
    y = drop_path(x, 0.3, training=True)
    dropped = (y[:, 0, 0] == 0).float().mean().item()
    assert abs(dropped - 0.3) < 0.03
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.7))
    model, _ = build_tiny_model()
    pixel = torch.randn(2, 3, 64, 64)
    model.eval()
    before = model.model.vision_tower(pixel_values=pixel).last_hidden_state
    rates = enable_drop_path(model, 0.1)
    assert rates == pytest.approx([0.0, 0.1])
    layers = model.model.vision_tower.encoder.layer
    assert all(isinstance(layer, DropPathVisionLayer) for layer in layers)
    after = model.model.vision_tower(pixel_values=pixel).last_hidden_state
    assert torch.equal(before, after)  # eval mode: exactly the original layer


def test_packed_rows_give_the_same_per_sample_loss_as_separate_rows():
    model, tok = build_tiny_model("qwen2", seed=1)
    model.eval()
    torch.manual_seed(0)
    ctx = tok.context_image_token_id
    a = torch.tensor([50, 51, tok.convert_tokens_to_ids("<img>"), *[ctx] * 4,
                      tok.convert_tokens_to_ids("</img>"), 30, 31, 32, 33])
    b = torch.tensor([40, 41, 42, 43, 44, 45, 46])
    pix = torch.randn(1, 3, 64, 64)
    labels = [a.clone(), b.clone()]
    labels[0][:8] = IGNORE_INDEX
    labels[1][:3] = IGNORE_INDEX
    weights = [loss_weights(lab, "square") for lab in labels]

    def loss(ids, lab, w, pixel_values=None, mask=None, pos=None):
        out = model(input_ids=ids[None], pixel_values=pixel_values, attention_mask=mask,
                    position_ids=pos)
        return weighted_lm_loss(out.logits, lab[None], w[None], reduce_across_ranks=False)

    separate = [loss(a, labels[0], weights[0], pix), loss(b, labels[1], weights[1])]
    ids = torch.cat([a, b])
    mask = block_diagonal_causal_mask([len(a), len(b)])
    pos = torch.cat([torch.arange(len(a)), torch.arange(len(b))])[None]
    out = model(input_ids=ids[None], pixel_values=pix, attention_mask=mask, position_ids=pos)
    logits_a, logits_b = out.logits[:, :len(a)], out.logits[:, len(a):]
    packed = [weighted_lm_loss(logits_a, labels[0][None], weights[0][None], False),
              weighted_lm_loss(logits_b, labels[1][None], weights[1][None], False)]
    for s, p in zip(separate, packed, strict=True):
        assert torch.allclose(s, p, atol=1e-5)
    # And the single packed loss is the square-weighted mean of the per-sample ones.
    total = weighted_lm_loss(out.logits, torch.cat(labels)[None], torch.cat(weights)[None],
                             False)
    n = [4, 4]  # supervised tokens after the shift: a has 4 (30..33), b has 4 (43..46)
    expected = sum(math.sqrt(k) * s for k, s in zip(n, separate, strict=True)) / \
        sum(math.sqrt(k) for k in n)
    assert torch.allclose(total, expected, atol=1e-5)


@pytest.mark.parametrize("overrides,reason", [
    (dict(freeze_vit=True, freeze_mlp=True, freeze_llm=True), "nothing would train"),
    (dict(unfreeze_vit_layers=2), "needs freeze_vit"),
    (dict(lora_llm=8, freeze_llm=True), "LoRA already freezes"),
    (dict(lora_vit=8, freeze_vit=True), "LoRA already freezes"),
])
def test_conflicting_options(overrides, reason):
    with pytest.raises(ValueError, match=reason):
        check_options(recipe("tiny", "remote", **overrides))


def test_input_errors(tmp_path, toy_meta):
    with pytest.raises(Exception, match="meta file not found"):
        check_inputs(recipe("tiny", "remote"), tmp_path / "none.json", 4)
    with pytest.raises(ValueError, match="cannot hold one image tile"):
        check_inputs(recipe("tiny", "remote", max_seq_length=5), toy_meta, 4)
    bad = tmp_path / "bad.json"
    bad.write_text(toy_meta.read_text().replace("train.jsonl", "gone.jsonl"))
    with pytest.raises(FileNotFoundError, match=r"gone\.jsonl not found"):
        check_inputs(recipe("tiny", "remote"), bad, 4)
    with pytest.raises(ValueError, match="deepspeed_stage"):
        deepspeed_config(4)
    assert deepspeed_config(2).endswith("zero2.json")


def test_tokenizer_and_checkpoint_checks(tmp_path):
    _, tok = build_tiny_model()
    assert check_tokenizer(tok) == tok.context_image_token_id
    with pytest.raises(ValueError, match="no <IMG_CONTEXT>"):
        fake = type("T", (), {"convert_tokens_to_ids": lambda self, t: 0,
                              "unk_token_id": 0, "convert_ids_to_tokens": lambda s, i: "x"})()
        check_tokenizer(fake, "fake-tokenizer")
    original = tmp_path / "orig"
    original.mkdir()
    (original / "config.json").write_text('{"architectures": ["InternVLChatModel"]}')
    with pytest.raises(ValueError, match="internvl-da convert"):
        check_native_checkpoint(original)
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        check_native_checkpoint(tmp_path)


def test_lora_targets_anchor_on_language_model():
    model, _ = build_tiny_model("phi3")
    cfg = recipe("tiny-phi3", "remote", lora_llm=4, freeze_vit=True)
    wrapped = apply_lora(model, cfg)
    apply_freezing(wrapped, cfg)
    lora = {n.split(".lora_")[0] for n, _ in wrapped.named_parameters() if "lora_A" in n}
    assert lora and all("language_model" in n for n in lora)
    assert any(n.endswith("qkv_proj") for n in lora) and any(n.endswith("gate_up_proj")
                                                              for n in lora)
    trainable = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or "multi_modal_projector" in n for n in trainable)
