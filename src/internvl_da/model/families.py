"""Model families x sizes: `family: internvl2 | internvl3.5` with `size: tiny | 1b | 2b | 4b`.

The same two words everywhere (params.yaml, stages, Makefile, CLI). `get_model(family, size)`
gives the registry entry (model/registry.py: hub id, revision, template, tokens per tile,
tiling, LLM); InternVL2 (the paper's family, the default) keeps its bare size keys there.
`RECIPES` holds the two training profiles of spec internvl35.md §11 for InternVL3.5, each value
with the line of the spec it comes from; `internvl35_config(size)` is the native architecture of
InternVL3.5-{1B,2B,4B} written from spec §3 (tests count its parameters against §3.1).
"""

from __future__ import annotations

from internvl_da.model.registry import SizeSpec, get_size

FAMILIES = ("internvl2", "internvl3.5")
FAMILY_SIZES = ("tiny", "1b", "2b", "4b")
DEFAULT_FAMILY = "internvl2"
# (family, size) -> key of registry.SIZES. The tiny 3.5 is `tiny-qwen3`, a tiny variant like
# tiny-llama / tiny-phi3, so the tiny CPU profile of params.yaml applies to it unchanged.
MODEL_KEYS: dict[tuple[str, str], str] = {
    **{("internvl2", size): size for size in FAMILY_SIZES},
    ("internvl3.5", "tiny"): "tiny-qwen3",
    **{("internvl3.5", size): f"internvl3.5-{size}" for size in ("1b", "2b", "4b")},
}


def model_key(family: str, size: str) -> str:
    """The registry key of (family, size); a clear error naming the choices."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; choose from {list(FAMILIES)}")
    if size not in FAMILY_SIZES:
        raise ValueError(f"unknown model size {size!r}; choose from {list(FAMILY_SIZES)}")
    return MODEL_KEYS[(family, size)]


def get_model(family: str, size: str) -> SizeSpec:
    """The registry entry of (family, size)."""
    return get_size(model_key(family, size))


# Spec internvl35.md §11. `da35` (default): the InternVL2 DA recipe unchanged (params.yaml
# `train` + `recipe.<size>.<domain>`: lr 1e-5, wd 0.01, ZeRO-1, 16384/48 packing, 8192 tokens,
# drop path 0.1, steps/GA per domain), only the model changes, so a family comparison is a
# model-only change. `sft35_official`: the official internvl3_5_qwen3 SFT scripts (§6.2),
# with the §7.1 padding bug fixed (our packing never pads samples). Keys are TrainConfig fields.
RECIPES: dict[str, dict[str, object]] = {
    "da35": {},
    "sft35_official": {
        "learning_rate": 8e-5,  # §6.2 learning_rate
        "weight_decay": 0.05,  # §6.2 weight_decay (all parameters, §6.4)
        "decay_all_parameters": True,  # §6.4: DeepSpeed optimizer block -> one group
        "drop_path_rate": 0.0,  # §6.2 drop_path_rate (0.1 in the InternVL2 DA scripts)
        "max_steps": 8000,  # §6.2 max_steps
        "warmup_ratio": 0.03,  # §6.2: ceil(0.03 * 8000) = 240 warmup steps
        "lr_scheduler": "cosine",  # §6.2
        "max_seq_length": 32768,  # §6.2
        "max_packed_tokens": 32768,  # §6.2 max_packed_tokens
        "max_packed_tiles": 96,  # §6.2 num_images_expected
        "max_buffers": 20,  # §6.2 max_buffer_size
        "max_dynamic_patch": 12,  # §6.2
        "per_device_batch_size": 1,  # §6.2 PER_DEVICE_BATCH_SIZE
        "recipe_gpus": 8,  # §6.2: GA = 512 / 1 / 8 on one 8-GPU node
        "gradient_accumulation_steps": 64,  # §6.2: global batch 512 sequences
        "deepspeed_stage": 3,  # §6.2 zero_stage3_config.json (ZeRO-1: same mathematics)
        "gradient_checkpointing": True,  # §6.2 grad_checkpoint
        "num_workers": 16,  # §6.2 dataloader_num_workers
        "loss_reduction": "square",  # §6.2
        "save_steps": 500,  # §6.2
        "save_total_limit": 100,  # §6.2
        "seed": 42,  # §6.2
    },
}
# Official-script settings with no TrainConfig field (documented, not applied): `replacement
# True` (an exhausted dataset restarts; our stream is endless per epoch anyway), contiguous
# per-rank `split_annotations` (§7.2), use_fast_tokenizer False (we use the checkpoint's).
NOT_APPLIED = ("replacement", "split_annotations", "use_fast_tokenizer")


def recipe_overrides(family: str, profile: str | None = None) -> dict[str, object]:
    """TrainConfig overrides of a family's training profile (InternVL2: none; 3.5: §11)."""
    if family == "internvl2":
        if profile not in (None, "da"):
            raise ValueError(f"family internvl2 has only the paper's recipe, not {profile!r}")
        return {}
    if family != "internvl3.5":
        raise ValueError(f"unknown model family {family!r}; choose from {list(FAMILIES)}")
    profile = profile or "da35"
    if profile not in RECIPES:
        raise ValueError(f"unknown InternVL3.5 recipe {profile!r}; choose from {sorted(RECIPES)}")
    return dict(RECIPES[profile])


# Spec internvl35.md §3.2 (Qwen3-0.6B / 1.7B / 4B) and §3.1 (untied head in all three).
QWEN3_SHAPES = {
    "1b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
               num_attention_heads=16),
    "2b": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
               num_attention_heads=16),
    "4b": dict(hidden_size=2560, intermediate_size=9728, num_hidden_layers=36,
               num_attention_heads=32),
}
QWEN3_SHARED = dict(num_key_value_heads=8, head_dim=128, vocab_size=151936, rope_theta=1e6,
                    max_position_embeddings=40960, rms_norm_eps=1e-6, hidden_act="silu",
                    attention_bias=False, tie_word_embeddings=False, bos_token_id=151643,
                    eos_token_id=151645)
IMG_CONTEXT_ID_35 = 151671  # §3.4 (measured: Qwen3 vocabulary + the nine InternVL tokens)


def internvl35_config(size: str):
    """The native InternVLConfig of InternVL3.5-{1B,2B,4B} from the spec's facts (§3.1-§3.3);
    read the real checkpoint's config.json for real runs, this is for shape checks and tests."""
    from transformers import InternVLConfig, InternVLVisionConfig, Qwen3Config

    if size not in QWEN3_SHAPES:
        raise ValueError(f"no InternVL3.5 size {size!r}; choose from {sorted(QWEN3_SHAPES)}")
    shared = {k: v for k, v in QWEN3_SHARED.items() if k != "rope_theta"}
    text = Qwen3Config(**QWEN3_SHAPES[size], **shared,
                       rope_parameters={"rope_type": "default", "rope_theta": 1e6})
    vision = InternVLVisionConfig(  # InternViT-300M (§3.3, training.md §17.2)
        hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
        image_size=[448, 448], patch_size=[14, 14], attention_bias=True, use_qk_norm=False,
        norm_type="layer_norm", layer_norm_eps=1e-6, use_mean_pooling=True,
        layer_scale_init_value=0.1)
    return InternVLConfig(
        vision_config=vision, text_config=text, image_token_id=IMG_CONTEXT_ID_35,
        image_seq_length=256, downsample_ratio=0.5, vision_feature_layer=-1,
        vision_feature_select_strategy="default", projector_hidden_act="gelu",
        tie_word_embeddings=False)
