"""`make readme-check`: the README's command lines work verbatim after its set-up line (issue 11).

Reads the indented command blocks of README.md, joins `\\` continuations, drops `# comments`, and
runs the cheap form of each line in ONE fresh shell (`env -i`, no profile, only /usr/bin:/bin on
PATH) after `source .venv/bin/activate`, the README's set-up line:
- `internvl-da ARGS` and `python -m internvl_da ARGS`: `ARGS --help` (the command resolves, the
  subcommand and the arguments before --help parse);
- `dvc repro|exp run [-S k=v] [STAGE...]`: `dvc stage list --name-only` names every STAGE and each
  `-S` key exists in params.yaml (nothing is run, params.yaml is not touched);
- other `dvc` lines: `dvc SUBCOMMAND --help`; `make T...`: `make -n T...` (the targets exist).
Lines for clusters and containers (torchrun, sbatch, enroot, docker, bash ...) are listed as not
run. Exit 1 with one line per failing command.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = "source .venv/bin/activate"
NOT_RUN = ("torchrun", "sbatch", "enroot", "docker", "bash", "podman", "nvidia-ctk", "git")


def command_lines(markdown: str) -> list[str]:
    """Shell lines of the indented (4-space) blocks, continuations joined, comments dropped."""
    lines, pending = [], ""
    for raw in markdown.splitlines():
        if not raw.startswith("    ") or raw.startswith("    |"):
            pending = ""
            continue
        text = pending + raw.strip()
        if text.endswith("\\"):
            pending = text[:-1].rstrip() + " "
            continue
        pending = ""
        text = re.split(r"\s+#\s", text, maxsplit=1)[0].strip()
        if text:
            lines.append(text)
    return lines


def _stage_pattern(stage: str) -> str:
    """An ERE matching `stage` itself, or the expanded `stage@KEY` names of a foreach group."""
    name = stage.replace(".", r"\.")  # stage names: letters, digits, _ - @ and dots
    return f"^{name}$" if "@" in stage else f"^{name}(@.+)?$"


def _dvc_check(words: list[str]) -> str:
    """Shell test of a `dvc repro` / `dvc exp run` line: stages exist, -S keys exist."""
    stages = [w for w in words[2:] if not w.startswith("-") and "=" not in w]
    keys = [w.split("=", 1)[0] for i, w in enumerate(words) if words[i - 1] == "-S"]
    # a stage by its expanded name (custom_eval@x) or a foreach group by its dvc.yaml key
    # (custom_eval: every custom_eval@... ); tests/test_readme.py accepts the same two forms
    checks = [f"dvc stage list --name-only | grep -qE {shlex.quote(_stage_pattern(s))}"
              for s in stages]
    checks += [f"python -c 'import sys, yaml; d = yaml.safe_load(open(\"params.yaml\"));"
               f" [d := d[k] for k in sys.argv[1].split(\".\")]' {shlex.quote(k)}" for k in keys]
    return " && ".join(checks) or "command -v dvc >/dev/null"


def cheap_form(line: str) -> str | None:
    """The shell check for one README command line; None when it is not a command run here."""
    checks = []
    for part in (p.strip() for p in line.split("&&")):
        try:
            words = shlex.split(part)
        except ValueError:  # prose in a block (an unmatched quote): not a command
            return None
        if part == SETUP:
            continue
        if not words or words[0] in NOT_RUN or "..." in words:
            return None
        if words[0] == "internvl-da" or words[:3] == ["python", "-m", "internvl_da"]:
            checks.append(f"{part} --help >/dev/null")
        elif words[0] == "dvc" and (words[1] == "repro" or words[1:3] == ["exp", "run"]):
            checks.append(_dvc_check(words if words[1] == "repro" else words[1:]))
        elif words[0] == "dvc":
            checks.append(f"dvc {words[1]} --help >/dev/null")
        elif words[0] == "make":
            checks.append(f"make -n {' '.join(words[1:])} >/dev/null")
        else:
            return None
    return " && ".join(checks) or "true"


def script(lines: list[str]) -> tuple[str, list[str], list[str]]:
    """(bash script checking every runnable line, lines checked, command lines not run)."""
    body, checked, skipped = [SETUP, "fail=0"], [], []
    for line in lines:
        check = cheap_form(line)
        if check is None:
            if line.split()[0] in NOT_RUN:
                skipped.append(line)
            continue
        checked.append(line)
        body.append(f"( {check} ) </dev/null >/dev/null 2>&1 || "
                    f"{{ echo {shlex.quote('README command fails: ' + line)}; fail=1; }}")
    return "\n".join([*body, "exit $fail"]) + "\n", checked, skipped


def main() -> int:
    lines = command_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    text, checked, skipped = script(lines)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "LANG": "C.UTF-8"}
    result = subprocess.run(["bash", "--noprofile", "--norc", "-c", text], cwd=ROOT, env=env,
                            check=False)
    print(f"readme-check: {len(checked)} command lines checked in a fresh shell, "
          f"{len(skipped)} not run here (GPU, cluster, container)")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
