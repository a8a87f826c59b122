"""README commands work as typed (issue 11, item 11).

In-process here (every `internvl-da` line parses, every `dvc repro` / `dvc exp run` stage and
`-S` key exists); `make readme-check` (tools/readme_check.py) runs them from a fresh shell after
the README's set-up line.
"""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest
import yaml

from internvl_da import cli

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("readme_check", ROOT / "tools" / "readme_check.py")
readme_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_check)
LINES = readme_check.command_lines((ROOT / "README.md").read_text(encoding="utf-8"))


def test_command_lines_join_continuations_and_drop_comments():
    text = ("text\n\n    make setup && source .venv/bin/activate   # the set-up line\n"
            "    internvl-da train --domain remote \\\n        --size tiny\n    | not | code |\n")
    assert readme_check.command_lines(text) == [
        "make setup && source .venv/bin/activate", "internvl-da train --domain remote --size tiny"]


def test_cheap_forms():
    form = readme_check.cheap_form
    assert form("make setup && source .venv/bin/activate") == "make -n setup >/dev/null"
    assert form("internvl-da score gmai P") == "internvl-da score gmai P --help >/dev/null"
    assert "grep -qE '^eval_gmai(@.+)?$'" in form("dvc exp run -S size=1b eval_gmai")
    assert "grep -qE '^custom_eval@shapes-vqa$'" in form("dvc repro custom_eval@shapes-vqa")
    assert form("torchrun --nproc_per_node 8 -m internvl_da train") is None


def test_the_set_up_line_activates_the_venv():
    assert any(line.endswith(readme_check.SETUP) and line.startswith("make setup")
               for line in LINES)


@pytest.mark.parametrize("line", [li for li in LINES if li.startswith("internvl-da ")])
def test_every_internvl_da_line_parses(line):
    cli.build_parser().parse_args(shlex.split(line)[1:])  # SystemExit(2) on a bad argument


def test_every_dvc_stage_and_param_in_the_readme_exists():
    stages = set(yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    checked = 0
    for line in (li for li in LINES if li.startswith("dvc ")):
        words = shlex.split(line)
        if words[:2] != ["dvc", "repro"] and words[:3] != ["dvc", "exp", "run"]:
            continue
        for i, word in enumerate(words[2:], 2):
            if words[i - 1] == "-S":
                node = params
                for key in word.split("=", 1)[0].split("."):
                    assert key in node, (line, word)
                    node = node[key]
            elif not word.startswith("-") and word != "run":
                # a foreach group by its dvc.yaml key (custom_eval) or expanded (custom_eval@x):
                # dvc accepts both, and so does tools/readme_check.py
                assert word.split("@", 1)[0] in stages, (line, word)
        checked += 1
    assert checked >= 3


def test_a_broken_readme_line_fails_the_fresh_shell_check(tmp_path):
    """The generated script reports a line whose stage does not exist (exit 1, the line named)."""
    import subprocess

    text, checked, _ = readme_check.script(["dvc repro no_such_stage", "make help"])
    (tmp_path / "dvc").write_text("#!/bin/sh\necho eval_drivelm\n")
    (tmp_path / "dvc").chmod(0o755)
    text = text.replace(readme_check.SETUP, f"PATH={tmp_path}:$PATH")
    result = subprocess.run(["bash", "-c", text], cwd=ROOT, capture_output=True, text=True,
                            check=False)
    assert checked == ["dvc repro no_such_stage", "make help"]
    assert (result.returncode, result.stdout) == (
        1, "README command fails: dvc repro no_such_stage\n")
