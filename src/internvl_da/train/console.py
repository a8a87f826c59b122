"""Training's console and log file (issue 11, item 13).

The Trainer's `ProgressCallback` writes every log dict under the bar (`make demo`: 900 lines
of per-step losses). Here the bar stays, shows the last loss as its postfix, and every log
dict goes as one JSON line to `train_log.jsonl` in the run folder instead; the command prints
a one-line summary at the end (`summary_line`).
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers.trainer_callback import ProgressCallback, TrainerCallback

LOG_NAME = "train_log.jsonl"


class QuietProgress(ProgressCallback):
    """The Trainer's progress bar without the per-log lines."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None and logs \
                and "loss" in logs:
            self.training_bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)


class JsonlLog(TrainerCallback):
    """Every log dict (with its step) appended to OUTPUT/train_log.jsonl, on rank 0.

    On resume the lines after the resumed step are dropped first, so the file holds one
    history, not the killed run's tail twice.
    """

    def __init__(self, output_dir: str | Path):
        self.path = Path(output_dir) / LOG_NAME

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [line for line in _lines(self.path) if line.get("step", 0) <= state.global_step]
        self.path.write_text("".join(json.dumps(x) + "\n" for x in kept), encoding="utf-8")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": state.global_step, **logs}) + "\n")


def _lines(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(text))
        except json.JSONDecodeError:
            break  # a line cut by a kill: the history ends before it
    return rows


def last_loss(output_dir: str | Path) -> float | None:
    """The last logged training loss of a run, from its log file."""
    losses = [row["loss"] for row in _lines(Path(output_dir) / LOG_NAME) if "loss" in row]
    return losses[-1] if losses else None


def summary_line(metrics: dict, output_dir: str | Path, steps: int) -> str:
    """`trained N steps in Xs: final loss L (mean M); model OUT/final, log OUT/train_log.jsonl`"""
    out = Path(output_dir)
    final = last_loss(out)
    parts = [f"trained {steps} steps in {metrics.get('train_runtime', 0.0):.0f}s"]
    if final is not None:
        parts.append(f"last loss {final:.4f}")
    if "train_loss" in metrics:
        parts.append(f"mean loss {metrics['train_loss']:.4f}")
    return ", ".join(parts) + f"; model {out / 'final'}, log {out / LOG_NAME}"
