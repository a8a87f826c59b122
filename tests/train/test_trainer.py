"""The project's optimizer groups in force whatever builds the optimizer (spec §7)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from accelerate.utils import DummyOptim
from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig, deepspeed_optim_sched

from internvl_da.model.tiny import build_tiny_model
from internvl_da.train.finetune import deepspeed_config, training_arguments
from internvl_da.train.recipe import recipe
from internvl_da.train.trainer import InternVLTrainer, optimizer_groups


def signature(groups) -> list[tuple[float, list[int]]]:
    return [(g["weight_decay"], [id(p) for p in g["params"]]) for g in groups]


@pytest.mark.parametrize("stage", [1, 2, 3])
@pytest.mark.parametrize("decay_all", [True, False])
def test_project_groups_reach_deepspeed_for_every_zero_stage(stage, decay_all, tmp_path):
    """Regression (issue 10): under DeepSpeed the Trainer built its optimizer from the ZeRO
    config (one group of every parameter), so `decay_all_parameters: false` did nothing.
    Runs transformers' own `deepspeed_optim_sched` (what `deepspeed_init` calls) and then
    `create_optimizer` as `_prepare_for_training` does; the groups checked are what accelerate
    hands to `deepspeed.initialize` (DummyOptim.params) or the optimizer DeepSpeed wraps."""
    cfg = recipe("tiny", "remote", decay_all_parameters=decay_all, max_steps=2)
    model, _ = build_tiny_model()
    trainer = InternVLTrainer(model=model, args=training_arguments(cfg, tmp_path, []),
                              train_config=cfg)
    ds_config = HfTrainerDeepSpeedConfig(deepspeed_config(stage))
    ds_config.trainer_config_process(trainer.args)
    trainable = [p for p in model.parameters() if p.requires_grad]
    trainer.optimizer, _ = deepspeed_optim_sched(trainer, ds_config, trainer.args, 2, trainable)
    trainer.create_optimizer()
    optimizer = trainer.optimizer
    if "optimizer" in ds_config.config:  # zero1.json, as the reference's: DeepSpeed's AdamW
        assert isinstance(optimizer, DummyOptim)
        groups = optimizer.params
    else:
        groups = optimizer.param_groups
    expected = optimizer_groups(model, 0.01, decay_all)
    assert signature(groups) == signature(expected)
    assert len(groups) == (1 if decay_all else 2)


ENGINE = textwrap.dedent("""
    import json, os, socket, sys
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    from internvl_da.model.tiny import build_tiny_model
    from internvl_da.train.finetune import training_arguments
    from internvl_da.train.recipe import recipe
    from internvl_da.train.trainer import InternVLTrainer, optimizer_groups
    stage, decay_all, out = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
    cfg = recipe("tiny", "remote", deepspeed_stage=stage, decay_all_parameters=decay_all,
                 max_steps=2)
    model, _ = build_tiny_model()
    expected = [(g["weight_decay"], sorted(id(p) for p in g["params"]))
                for g in optimizer_groups(model, 0.01, decay_all)]
    trainer = InternVLTrainer(model=model, args=training_arguments(cfg, out, []),
                              train_config=cfg)
    config = trainer.accelerator.state.deepspeed_plugin.deepspeed_config
    if "optimizer" in config:  # DeepSpeed's torch AdamW: no JIT build of its CPU FusedAdam
        config["optimizer"]["params"]["torch_adam"] = True
    trainer._prepare_for_training(2, None, None)
    zero = trainer.optimizer.optimizer  # DeepSpeedZeroOptimizer(_Stage3)
    held = getattr(zero, "bit16_groups", None) or zero.fp16_groups
    got = [(g["weight_decay"], sorted(id(p) for p in params))
           for g, params in zip(zero.optimizer.param_groups, held)]
    print(json.dumps({"ok": got == expected, "decays": [d for d, _ in got]}))
""")


@pytest.mark.slow
@pytest.mark.parametrize("stage", [1, 2, 3])
def test_deepspeed_engine_optimizer_holds_the_project_groups(stage, tmp_path):
    """The real engine on DeepSpeed's CPU accelerator (gloo, one process): after the Trainer's
    set-up the ZeRO optimizer's groups are ours, with their weight decays."""
    script = tmp_path / "engine.py"
    script.write_text(ENGINE)
    proc = subprocess.run([sys.executable, str(script), str(stage), "0", str(tmp_path / "o")],
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == '{"ok": true, "decays": [0.01, 0.0]}'
