"""Issue 11, items 2, 6, 7, 13 (training): checked `--set`, data validated before the first step,
checkpoints complete only with a marker written last (`--resume` takes the newest complete one,
says which, refuses instead of guessing), and a quiet console."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from internvl_da.train import checkpoints
from internvl_da.train.checkpoints import MARKER, ResumeError, plan_start
from internvl_da.train.finetune import finetune
from internvl_da.train.recipe import recipe

HERE = Path(__file__).resolve().parent
FAST = dict(max_steps=4, gradient_accumulation_steps=1, learning_rate=2e-3, warmup_ratio=0.0,
            save_steps=2, save_total_limit=3, max_seq_length=512, max_packed_tokens=600,
            max_packed_tiles=12, gradient_checkpointing=False, seed=3, drop_path_rate=0.0)


def fake_checkpoint(run: Path, step: int, config: dict | None) -> Path:
    folder = run / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"w")
    if config is not None:
        checkpoints.write_marker(folder, step, config)
    return folder


def test_resume_skips_half_written_checkpoint(tmp_path):
    """A kill while writing checkpoint-6 (simulated: a folder without the marker)."""
    cfg = {"lr": 1}
    fake_checkpoint(tmp_path, 3, cfg)
    fake_checkpoint(tmp_path, 6, None)
    plan = plan_start(tmp_path, cfg, resume=True)
    assert plan.checkpoint == str(tmp_path / "checkpoint-3")
    assert any("skipping incomplete" in m and "checkpoint-6" in m for m in plan.messages)
    assert plan.messages[-1] == f"resuming from {tmp_path / 'checkpoint-3'}"
    checkpoints.apply_plan(plan)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-3"]


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(ResumeError, match="no complete checkpoint"):
        plan_start(tmp_path / "none", {}, resume=True)
    fake_checkpoint(tmp_path, 2, None)
    with pytest.raises(ResumeError, match=r"no complete checkpoint .*\(1 incomplete\)"):
        plan_start(tmp_path, {}, resume=True)
    plan = plan_start(tmp_path, {}, resume=True, fresh_if_none=True)
    assert plan.checkpoint is None and "starting fresh" in plan.messages[-1]


def test_resume_with_other_settings_is_refused(tmp_path):
    fake_checkpoint(tmp_path, 2, {"freeze_vit": False, "lr": 1})
    with pytest.raises(ResumeError, match=r"other settings \(freeze_vit: False -> True\)"):
        plan_start(tmp_path, {"freeze_vit": True, "lr": 1}, resume=True)
    plan = plan_start(tmp_path, {"freeze_vit": True, "lr": 1}, resume=True, force=True)
    assert plan.checkpoint is None and plan.remove == (tmp_path / "checkpoint-2",)


def test_fresh_run_into_a_folder_with_checkpoints_is_refused(tmp_path):
    fake_checkpoint(tmp_path, 2, {})
    with pytest.raises(ResumeError, match=r"already holds checkpoints .*--resume.*--force"):
        plan_start(tmp_path, {}, resume=False)
    checkpoints.apply_plan(plan_start(tmp_path, {}, resume=False, force=True))
    assert not list(tmp_path.iterdir())


def test_rotation_keeps_newest_complete(tmp_path):
    for step in (2, 4, 6):
        fake_checkpoint(tmp_path, step, {})
    assert [p.name for p in checkpoints.rotate(tmp_path, 2)] == ["checkpoint-2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4", "checkpoint-6"]


def weights_hash(out: Path) -> str:
    return hashlib.sha256((out / "final" / "model.safetensors").read_bytes()).hexdigest()


def run(meta, out, **kwargs):
    return finetune(recipe("tiny", "remote", **FAST), meta, out, **kwargs)


@pytest.fixture()
def toy_meta(tmp_path):
    """Eight yes/no colour questions on 64x64 images (the tiny model's tile size)."""
    root = tmp_path / "data"
    (root / "img").mkdir(parents=True)
    rows = []
    for i in range(8):
        colour = ("red", "blue")[i % 2]
        Image.new("RGB", (64, 64), (220, 40, 40) if colour == "red" else (40, 80, 220)).save(
            root / "img" / f"{i}.png")
        rows.append({"id": f"s{i}", "image": f"{i}.png", "conversations": [
            {"from": "human", "value": "<image>\nIs it red?"},
            {"from": "gpt", "value": "yes" if colour == "red" else "no"}]})
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    meta = root / "meta.json"
    meta.write_text(json.dumps({"toy": {"root": str(root / "img"),
                                        "annotation": str(root / "train.jsonl"),
                                        "data_augment": False, "repeat_time": 1}}))
    return meta


def test_full_disk_while_saving_then_resume_gives_identical_weights(toy_meta, tmp_path,
                                                                     monkeypatch):
    """ENOSPC (injected) while checkpoint-4 is written: it stays incomplete, the run fails,
    and --resume continues from checkpoint-2 to the same bytes as an uninterrupted run."""
    run(toy_meta, tmp_path / "full")
    from internvl_da.train.trainer import InternVLTrainer

    def full_disk(self, output_dir):
        if output_dir.endswith("checkpoint-4"):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(InternVLTrainer, "_save_rng_state", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run(toy_meta, tmp_path / "cut")
    monkeypatch.undo()
    assert (tmp_path / "cut/checkpoint-4").is_dir()
    assert not (tmp_path / "cut/checkpoint-4" / MARKER).exists()
    notes = []
    run(toy_meta, tmp_path / "cut", resume=True, log=notes.append)
    assert any("skipping incomplete" in n and "checkpoint-4" in n for n in notes)
    assert notes[-1] == f"resuming from {tmp_path / 'cut/checkpoint-2'}"
    assert weights_hash(tmp_path / "cut") == weights_hash(tmp_path / "full")


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, sys.argv[3])
from internvl_da.train.trainer import InternVLTrainer
from internvl_da.train.finetune import finetune
from internvl_da.train.recipe import recipe
from test_train_faults import FAST

real = InternVLTrainer._save_rng_state

def dying(self, output_dir):
    if output_dir.endswith("checkpoint-4"):  # weights and optimizer written, then kill -9
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, output_dir)

InternVLTrainer._save_rng_state = dying
finetune(recipe("tiny", "remote", **FAST), sys.argv[1], sys.argv[2])
"""


def test_sigkill_while_saving_then_resume(toy_meta, tmp_path):
    """kill -9 in the middle of writing checkpoint-4 (a real subprocess): before the marker,
    --resume picked it and crashed on the missing trainer_state.json."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(toy_meta),
                           str(tmp_path / "killed"), str(HERE)],
                          env=env, capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-3000:]
    half = tmp_path / "killed/checkpoint-4"
    assert (half / "model.safetensors").is_file() and not (half / MARKER).exists()
    assert not (half / "trainer_state.json").exists()
    notes = []
    run(toy_meta, tmp_path / "killed", resume=True, log=notes.append)
    assert notes[-1] == f"resuming from {tmp_path / 'killed/checkpoint-2'}"
    run(toy_meta, tmp_path / "full")
    assert weights_hash(tmp_path / "killed") == weights_hash(tmp_path / "full")
    state = json.loads((tmp_path / "killed/checkpoint-4/trainer_state.json").read_text())
    assert state["global_step"] == 4 and (tmp_path / "killed/checkpoint-4" / MARKER).exists()


@pytest.mark.parametrize("item,message", [
    ("freeze_vit=no", "--set freeze_vit=no: expected a bool (true or false), got 'no'"),
    ("freeze_vit=yes", "expected a bool"),
    ("freeze_vit=1", "expected a bool"),
    ("max_steps=abc", "--set max_steps=abc: expected an int, got 'abc'"),
    ("max_steps=2.5", "expected an int"),
    ("learning_rate=fast", "--set learning_rate=fast: expected a float, got 'fast'"),
    ("adam_betas=0.9", "expected a list of 2 numbers"),
    ("learning_rat=1e-5", "--set learning_rat: unknown key"),
    ("freeze_vit", "expected KEY=VALUE"),
])
def test_set_goes_through_the_params_schema(item, message):
    """Issue 11, item 2: `--set freeze_vit=no` froze the vision tower (a truthy string);
    max_steps=abc and learning_rate=fast failed later with unrelated TypeErrors."""
    from internvl_da.params import ParamsError, parse_overrides

    with pytest.raises(ParamsError, match=re.escape(message)):
        parse_overrides([item])


def test_set_accepts_the_schema_types():
    from internvl_da.params import ParamsError, parse_overrides

    assert parse_overrides(["freeze_vit=TRUE", "max_steps=7", "learning_rate=1e-5",
                            "adam_betas=0.9,0.95", "lr_scheduler=linear", "lora_llm=8"]) == {
        "freeze_vit": True, "max_steps": 7, "learning_rate": 1e-5, "adam_betas": (0.9, 0.95),
        "lr_scheduler": "linear", "lora_llm": 8}
    with pytest.raises(ParamsError, match="given twice"):
        parse_overrides(["seed=1", "seed=2"])
    with pytest.raises(ParamsError, match=r"freeze_vit: expected bool, got str \('no'\)"):
        recipe("tiny", "remote", freeze_vit="no")  # the Python API checks types too


def test_cli_set_error_before_any_work(tmp_path, monkeypatch, capsys):
    from internvl_da.cli import main
    from internvl_da.train import finetune as finetune_module

    monkeypatch.setattr(finetune_module, "finetune", lambda *a, **k: pytest.fail("trained"))
    code = main(["train", "--domain", "remote", "--set", "freeze_vit=no",
                 "--output", str(tmp_path / "run")])
    assert code != 0 and "--set freeze_vit=no: expected a bool" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_bad_last_line_fails_before_the_first_step(toy_meta, tmp_path, monkeypatch):
    """Issue 11, item 6: a bad line failed training at step 184 of 200; now the whole data is
    checked (data check's validator) before the model is built."""
    from internvl_da.train import finetune as finetune_module

    annotation = toy_meta.parent / "train.jsonl"
    with annotation.open("a") as handle:
        handle.write(json.dumps({"image": "missing.png", "conversations": [
            {"from": "human", "value": "<image>\nq"}, {"from": "gpt", "value": "a"}]}) + "\n")
    monkeypatch.setattr(finetune_module, "build_model", lambda *a: pytest.fail("built"))
    with pytest.raises(finetune_module.DataCheckError,
                       match=rf"{re.escape(str(annotation))}:9: image file not found"):
        run(toy_meta, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_empty_repeat_names_the_dataset_before_training(toy_meta, tmp_path):
    meta = json.loads(toy_meta.read_text())
    meta["toy"]["repeat_time"] = 0.1  # int(8 * 0.1) == 0 lines
    toy_meta.write_text(json.dumps(meta))
    from internvl_da.train.finetune import DataCheckError

    with pytest.raises(DataCheckError, match=r"dataset 'toy': repeat_time 0\.1 keeps 0 of its 8"):
        run(toy_meta, tmp_path / "run")


def test_console_is_one_summary_line_and_logs_go_to_a_file(toy_meta, tmp_path, capsys):
    """Issue 11, item 13: `make demo` printed a dict per step; now a progress bar (stderr),
    one summary line (stdout), and every log in RUN/train_log.jsonl."""
    from internvl_da.cli import main

    out = tmp_path / "run"
    sets = [x for k, v in FAST.items() if k != "max_steps" for x in ("--set", f"{k}={v}")]
    assert main(["train", "--domain", "remote", "--meta", str(toy_meta), "--output", str(out),
                 "--max-steps", "4", *sets]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("trained 4 steps in "), captured.out
    assert f"model {out / 'final'}, log {out / 'train_log.jsonl'}" in lines[0]
    assert "'loss'" not in captured.err  # no per-step dicts under the bar
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert (out / "final" / "model.safetensors").is_file()
    assert not list(out.glob(".final.partial-*"))
