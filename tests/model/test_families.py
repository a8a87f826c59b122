"""The family x size registry agrees with spec internvl35.md (§2 checkpoints, §3 shapes and
parameter counts, §4 template, §6/§11 recipes, §8 tiling) and with the InternVL2 entries."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from transformers import InternVLForConditionalGeneration

from internvl_da.model import families
from internvl_da.model.registry import SIZES
from internvl_da.train.recipe import TrainConfig

# Spec §3.1: computed (and, for the 1B, audited) stored parameter counts with an UNTIED head.
SPEC_COUNTS = {"1b": (1_060_897_792, 304_012_288, 5_253_120, 751_632_384),
               "2b": (2_348_347_392, 304_012_288, 12_595_200, 2_031_739_904),
               "4b": (4_732_489_216, 304_012_288, 17_052_672, 4_411_424_256)}
SPEC_LLM = {"1b": "Qwen3-0.6B", "2b": "Qwen3-1.7B", "4b": "Qwen3-4B"}


def test_every_family_has_every_size_and_internvl2_keeps_its_keys():
    assert families.FAMILIES == ("internvl2", "internvl3.5")
    assert families.DEFAULT_FAMILY == "internvl2"
    for family in families.FAMILIES:
        for size in families.FAMILY_SIZES:
            assert families.model_key(family, size) in SIZES
    for size in families.FAMILY_SIZES:
        assert families.get_model("internvl2", size) is SIZES[size]
        assert families.get_model("internvl2", size).family == "internvl2"


@pytest.mark.parametrize("size", ["1b", "2b", "4b"])
def test_internvl35_entries_agree_with_the_spec(size):
    spec = families.get_model("internvl3.5", size)
    assert spec.hub_id == f"OpenGVLab/InternVL3_5-{size.upper()}-HF"  # §2: native, no convert
    assert spec.native_on_hub and spec.family == "internvl3.5"
    assert spec.template == "internvl2_5"  # §4.1
    assert spec.llm_family == "qwen3" and spec.llm == SPEC_LLM[size]
    assert not spec.tie_word_embeddings  # §1 item 1
    assert (spec.tokens_per_tile, spec.image_size) == (256, 448)  # §3.3
    assert (spec.max_dynamic_patch, spec.use_thumbnail) == (12, True)  # §8


def test_tiny_internvl35_is_a_tiny_variant_with_the_3_5_template():
    tiny = families.get_model("internvl3.5", "tiny")
    assert tiny.name.startswith("tiny") and tiny.hub_id is None  # built in-process
    assert (tiny.template, tiny.llm_family, tiny.tie_word_embeddings) == ("internvl2_5", "qwen3",
                                                                        False)


@pytest.mark.parametrize("size", ["1b", "2b", "4b"])
def test_spec_architecture_has_the_spec_parameter_counts(size):
    """Shapes of §3.2-§3.3 give the §3.1 counts only with head_dim 128 and an untied head."""
    config = families.internvl35_config(size)
    with torch.device("meta"):
        model = InternVLForConditionalGeneration(config)
    state = model.state_dict()
    count = {part: sum(v.numel() for k, v in state.items() if part in k)
             for part in ("vision_tower", "multi_modal_projector")}
    total = sum(v.numel() for v in state.values())
    llm = total - count["vision_tower"] - count["multi_modal_projector"]
    assert (total, count["vision_tower"], count["multi_modal_projector"], llm) == \
        SPEC_COUNTS[size]
    assert config.image_token_id == 151671 and not config.tie_word_embeddings  # §11 tests 4-5
    text = config.text_config
    assert text.head_dim == 128  # fixed; hidden/heads is 64 for the 1B and 80 for the 4B
    assert {"1b": 64, "2b": 128, "4b": 80}[size] == text.hidden_size // text.num_attention_heads


def test_recipe_profiles_are_train_config_fields_with_the_official_values():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert families.recipe_overrides("internvl2") == {}
    assert families.recipe_overrides("internvl3.5") == {}  # da35: the DA recipe unchanged
    official = families.recipe_overrides("internvl3.5", "sft35_official")
    assert set(official) <= fields
    assert (official["learning_rate"], official["weight_decay"], official["drop_path_rate"]) == \
        (8e-5, 0.05, 0.0)
    assert (official["max_packed_tokens"], official["max_packed_tiles"]) == (32768, 96)
    assert official["deepspeed_stage"] == 3 and official["max_steps"] == 8000
    assert official["recipe_gpus"] * official["per_device_batch_size"] * \
        official["gradient_accumulation_steps"] == 512  # §6.2 global batch
    assert not set(families.NOT_APPLIED) & fields


@pytest.mark.parametrize("call,reason", [
    (lambda: families.model_key("internvl3", "1b"), "unknown model family 'internvl3'"),
    (lambda: families.model_key("internvl3.5", "8b"), "unknown model size '8b'"),
    (lambda: families.recipe_overrides("internvl3.5", "fast"), "unknown InternVL3.5 recipe"),
    (lambda: families.recipe_overrides("internvl2", "sft35_official"), "only the paper's"),
    (lambda: families.internvl35_config("tiny"), "no InternVL3.5 size 'tiny'"),
])
def test_errors_name_the_choices(call, reason):
    with pytest.raises(ValueError, match=reason):
        call()
