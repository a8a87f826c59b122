"""The recipe's global batch on any GPU count (reference scripts: GRADIENT_ACC derived)."""

from __future__ import annotations

import pytest

from internvl_da.train.finetune import check_inputs, training_arguments
from internvl_da.train.recipe import accumulation_steps, recipe


@pytest.mark.parametrize("domain,gpus,expected", [
    ("remote", 8, 8), ("remote", 1, 64), ("remote", 2, 32), ("remote", 4, 16),
    ("remote", 16, 4), ("remote", 64, 1), ("medical", 32, 2), ("drivelm", 8, 1),
    ("drivelm", 2, 4), ("drivelm", 1, 8),
])
def test_global_batch_kept_for_any_gpu_count(domain, gpus, expected):
    """Regression (issue 10): with other than 8 GPUs the global batch silently changed; the
    accumulation is now 8 x GA / GPUs, as the reference scripts derive it (spec §2-§5)."""
    cfg = recipe("1b", domain)
    assert accumulation_steps(cfg, gpus) == expected
    assert gpus * cfg.per_device_batch_size * expected == cfg.global_batch_size
    assert cfg.global_batch_size == {"remote": 64, "medical": 64, "drivelm": 8}[domain]


def test_training_arguments_carry_the_derived_accumulation(tmp_path):
    cfg = recipe("1b", "medical", deepspeed_stage=0)
    assert training_arguments(cfg, tmp_path, [], world_size=4).gradient_accumulation_steps == 16
    assert training_arguments(cfg, tmp_path, []).gradient_accumulation_steps == 64


def test_indivisible_global_batch_is_an_error_naming_the_numbers(toy_meta, monkeypatch):
    with pytest.raises(ValueError, match=r"global batch of 8 packed sequences \(8 GPUs x 1 per "
                       r"GPU x 1 accumulation steps\) is not divisible by 16 GPUs x 1 per GPU"):
        accumulation_steps(recipe("2b", "drivelm"), 16)
    with pytest.raises(ValueError, match="not divisible by 3 GPUs"):
        accumulation_steps(recipe("4b", "remote"), 3)
    monkeypatch.setenv("WORLD_SIZE", "3")  # faked: what torchrun sets for 3 processes
    with pytest.raises(ValueError, match="not divisible by 3 GPUs"):
        check_inputs(recipe("tiny", "remote", recipe_gpus=8, gradient_accumulation_steps=8),
                     toy_meta, 4)
    monkeypatch.setenv("WORLD_SIZE", "2")
    check_inputs(recipe("tiny", "remote", recipe_gpus=2), toy_meta, 4)


def test_tiny_profile_runs_in_process_and_paper_profile_uses_eight_workers():
    assert recipe("tiny", "remote").num_workers == 0
    assert recipe("tiny", "remote").global_batch_size == 1
    assert all(recipe(size, "remote").num_workers == 8 for size in ("1b", "2b", "4b"))
