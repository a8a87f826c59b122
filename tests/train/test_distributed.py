"""Two CPU processes under torchrun with DeepSpeed ZeRO-2 on gloo (slow: DeepSpeed JIT-builds
its CPU communication op on first use, about 40 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import InternVLForConditionalGeneration


@pytest.mark.slow
def test_torchrun_two_processes_zero2(toy_meta, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_PORT": "29533"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_port=29533", "-m", "internvl_da", "train", "--domain", "remote",
           "--size", "tiny", "--meta", str(toy_meta), "--output", str(out), "--max-steps", "3",
           "--set", "deepspeed_stage=2", "--set", "save_steps=1000",
           "--set", "recipe_gpus=2"]  # the tiny profile's global batch of 1 is for one GPU
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = InternVLForConditionalGeneration.from_pretrained(Path(out) / "final")
    assert sum(p.numel() for p in model.parameters()) > 0
    assert '"world_size": 2' in (out / "run_manifest.json").read_text()
