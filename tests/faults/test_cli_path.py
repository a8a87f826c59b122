"""Issue 11, item 11: dvc.yaml's commands work without the venv on PATH.

`.venv/bin/dvc repro` from a fresh shell used to fail every stage with exit 127 (`internvl-da:
command not found`) after DVC had removed the stage's outputs. Stage commands now call
bin/internvl-da, which takes the CLI on PATH, else the checkout's .venv, else says what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "bin" / "internvl-da"


def test_every_stage_calls_the_path_independent_launcher():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name, stage in stages.items():
        stage = stage.get("do", stage)  # a foreach group: its stage template
        calls = re.findall(r"(\S*)internvl-da ", stage["cmd"])
        assert calls and set(calls) == {"bin/"}, (name, stage["cmd"])


def _stub(path: Path, word: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{word} $*"\n')
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path):
    """A copy of bin/internvl-da in a fake checkout; returns (checkout, run(PATH) -> result)."""
    (tmp_path / "repo" / "bin").mkdir(parents=True)
    shutil.copy2(LAUNCHER, tmp_path / "repo" / "bin" / "internvl-da")
    system = os.pathsep.join(p for p in ("/usr/bin", "/bin") if Path(p).is_dir())

    def run(extra_path: str = ""):
        env = {"PATH": f"{extra_path}{os.pathsep}{system}" if extra_path else system}
        return subprocess.run(["bin/internvl-da", "stage", "eval"], cwd=tmp_path / "repo",
                              env=env, capture_output=True, text=True, check=False)
    return tmp_path / "repo", run


def test_without_activation_the_checkouts_venv_runs(checkout):
    repo, run = checkout
    _stub(repo / ".venv" / "bin" / "internvl-da", "venv")
    result = run()
    assert (result.returncode, result.stdout) == (0, "venv stage eval\n")


def test_an_activated_environment_wins(checkout, tmp_path):
    repo, run = checkout
    _stub(repo / ".venv" / "bin" / "internvl-da", "venv")
    _stub(tmp_path / "active" / "internvl-da", "active")
    result = run(str(tmp_path / "active"))
    assert (result.returncode, result.stdout) == (0, "active stage eval\n")


def test_not_installed_is_one_clear_line(checkout):
    _, run = checkout
    result = run()
    assert result.returncode == 127
    assert result.stderr.count("\n") == 1 and "make setup" in result.stderr
