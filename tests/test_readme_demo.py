"""`make demo` output (issue 11, item 13): one line per stage, each stage's output in its log file,
errors shown in one line plus the tail of the failing stage's log (tools/stage_logs.py)."""

from __future__ import annotations

import importlib.util
import io
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("stage_logs", ROOT / "tools" / "stage_logs.py")
stage_logs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stage_logs)

DVC_OUTPUT = """\
'data/sample.dvc' didn't change, skipping
Stage 'sample_data' didn't change, skipping
Running stage 'finetune_remote':
> internvl-da train --domain remote
step 1 {'loss': 2.0}
step 2 {'loss': 1.5}
trained 2 steps in 1s
Running stage 'eval_rsvqa':
> internvl-da stage eval --bench rsvqa-lr
internvl-da: data/x.jsonl:3: invalid JSON
ERROR: failed to reproduce 'eval_rsvqa': failed to run: internvl-da stage eval, exited with 1
"""


def test_stage_output_goes_to_logs_and_the_screen_gets_one_line_per_stage(tmp_path):
    out, ticks = io.StringIO(), itertools.count(0, 2.0)
    errors = stage_logs.run(io.StringIO(DVC_OUTPUT), tmp_path / "logs", out=out,
                            clock=lambda: next(ticks))
    screen = out.getvalue().splitlines()
    assert screen[0].split() == ["sample_data", "unchanged"]
    assert screen[1].split() == ["finetune_remote", "log", f"{tmp_path}/logs/finetune_remote.log",
                                 "2.0", "s"]
    assert screen[2].split()[:2] == ["eval_rsvqa", "log"]
    assert screen[3:5] == errors == [
        "internvl-da: data/x.jsonl:3: invalid JSON",
        "ERROR: failed to reproduce 'eval_rsvqa': failed to run: internvl-da stage eval, "
        "exited with 1"]
    assert screen[5] == f"--- last lines of {tmp_path}/logs/eval_rsvqa.log ---"
    assert "step 1" not in out.getvalue()
    log = (tmp_path / "logs" / "finetune_remote.log").read_text()
    assert log.splitlines()[2:4] == ["step 1 {'loss': 2.0}", "step 2 {'loss': 1.5}"]
    assert "didn't change" in (tmp_path / "logs" / "dvc.log").read_text()


def test_a_clean_run_prints_no_log_tail(tmp_path):
    out = io.StringIO()
    text = "Running stage 'report':\n> internvl-da report\nwrote results.md\n"
    assert stage_logs.run(io.StringIO(text), tmp_path, out=out) == []
    assert len(out.getvalue().splitlines()) == 1
