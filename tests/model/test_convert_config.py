"""Config mapping: the original config dict is never mutated (issue 9, item 3)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

from internvl_da.model.convert_config import llm_family, native_config

_SPEC = importlib.util.spec_from_file_location(
    "internvl_da_tests_real_checkpoints", Path(__file__).with_name("real_checkpoints.py"))
checkpoints = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(checkpoints)


@pytest.mark.parametrize("size", ["1b", "2b", "4b"])
def test_native_config_leaves_the_original_unchanged_regression_issue9_item3(size):
    """transformers 5 adds rope_theta / rope_type into rope_scaling in place; a shallow copy
    leaked them into the original (2B: {"type", "factor"} gained two keys, which the original
    InternLM2 config then refused)."""
    original = checkpoints.cut_config(size, narrow=True)
    before = copy.deepcopy(original)
    config = native_config(original, llm_family(original, size), image_token_id=5)
    assert original == before
    assert config.text_config.num_hidden_layers == 2


def test_rope_settings_carry_over():
    internlm2 = checkpoints.cut_config("2b", narrow=True)
    text = native_config(internlm2, "internlm2", 5).text_config
    assert text.rope_parameters["rope_type"] == "dynamic"
    assert text.rope_parameters["factor"] == 2.0 and text.rope_parameters["rope_theta"] == 1e6
    phi3 = checkpoints.cut_config("4b", narrow=True)
    text = native_config(phi3, "phi3", 5).text_config
    assert text.rope_parameters["rope_type"] == "longrope"
    assert text.rope_parameters["long_factor"] == phi3["llm_config"]["rope_scaling"]["long_factor"]
    assert text.original_max_position_embeddings == 4096
