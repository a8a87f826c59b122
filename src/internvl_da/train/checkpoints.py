"""Checkpoint completeness, resume choice and atomic folders (issue 11, item 7).

The Hugging Face Trainer (transformers 5.24, `Trainer._save_checkpoint`) writes a checkpoint
file by file straight into `checkpoint-N/` — weights, optimizer, scheduler, RNG states, then
`trainer_state.json` — and then rotates old ones. A run killed (or out of disk) part way leaves
a folder that looks like a checkpoint and crashes `--resume`. Here a checkpoint counts as
complete only when `MARKER`, written last (after every rank has saved, fsynced, renamed into
place), is present; the marker records the step and the training config, so a resume with
other settings is refused instead of silently mixing two recipes.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from internvl_da.fileio import fsync_file, write_text_atomic

MARKER = "internvl_da_complete.json"
PREFIX = "checkpoint-"


class ResumeError(ValueError):
    """`--resume` cannot go on: no complete checkpoint, or one made with other settings."""


def step_of(folder: Path) -> int | None:
    """N of `checkpoint-N`, None for other names."""
    tail = folder.name.removeprefix(PREFIX)
    return int(tail) if folder.name.startswith(PREFIX) and tail.isdigit() else None


def write_marker(folder: str | Path, step: int, config: dict) -> None:
    """Mark a checkpoint complete: call after every file of it is written."""
    folder = Path(folder)
    for path in folder.rglob("*"):  # the Trainer writes without fsync
        if path.is_file():
            fsync_file(path)
    write_text_atomic(folder / MARKER, json.dumps({"step": step, "config": config}, indent=1,
                                                  sort_keys=True) + "\n")


def is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def scan(output_dir: str | Path) -> tuple[list[Path], list[Path]]:
    """(complete, incomplete) `checkpoint-N` folders of a run, each by ascending step."""
    root = Path(output_dir)
    found = sorted((p for p in root.glob(f"{PREFIX}*") if p.is_dir() and step_of(p) is not None),
                   key=step_of) if root.is_dir() else []
    return [p for p in found if is_complete(p)], [p for p in found if not is_complete(p)]


def remove_tree(folder: Path) -> None:
    """Delete a folder so that no kill leaves it looking complete: rename it away first."""
    doomed = folder.with_name(f".deleting-{folder.name}-{os.getpid()}")
    os.replace(folder, doomed)
    shutil.rmtree(doomed)


def rotate(output_dir: str | Path, limit: int | None) -> list[Path]:
    """Keep the newest `limit` complete checkpoints (None / <= 0: all); the removed ones.

    Called after the marker, so the newest complete checkpoint is never the one deleted
    (the Trainer's own rotation runs before our marker and sorts by mtime).
    """
    complete, _ = scan(output_dir)
    if not limit or limit <= 0 or len(complete) <= limit:
        return []
    doomed = complete[:-limit]
    for folder in doomed:
        remove_tree(folder)
    return doomed


def config_differences(saved: dict, current: dict) -> list[str]:
    """`key: saved -> current` for every setting that differs (JSON-normalised)."""
    saved, current = json.loads(json.dumps(saved)), json.loads(json.dumps(current))
    keys = sorted(set(saved) | set(current))
    return [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in keys
            if saved.get(k) != current.get(k)]


@dataclass(frozen=True)
class StartPlan:
    """Where a run starts: `checkpoint` (None = from scratch) and what to tell the user."""

    checkpoint: str | None
    messages: tuple[str, ...] = ()
    remove: tuple[Path, ...] = ()  # incomplete checkpoints (or, with force, all) to delete


def plan_start(output_dir: str | Path, config: dict, resume: bool, fresh_if_none: bool = False,
               force: bool = False) -> StartPlan:
    """Decide how a run in `output_dir` starts; raises ResumeError instead of guessing.

    - resume: the newest complete checkpoint, whose recorded config must equal `config`
      (else an error naming the differing keys); incomplete ones are reported and removed.
      No complete checkpoint is an error unless `fresh_if_none`.
    - no resume: existing checkpoints are an error (a later --resume would pick one of the
      old run) unless `force`, which removes them and starts fresh.
    """
    complete, incomplete = scan(output_dir)
    notes = [f"skipping incomplete {p} (no {MARKER}: the run stopped while writing it); "
             "removing it" for p in incomplete]
    if not resume:
        if (complete or incomplete) and not force:
            raise ResumeError(f"{output_dir} already holds checkpoints "
                              f"({', '.join(p.name for p in complete + incomplete)}); pass "
                              "--resume to continue that run, or --force to start fresh "
                              "(deletes them)")
        return StartPlan(None, (), tuple(complete + incomplete))
    if not complete:
        if not fresh_if_none:
            raise ResumeError(f"--resume: no complete checkpoint in {output_dir}"
                              + (f" ({len(incomplete)} incomplete)" if incomplete else "")
                              + "; run without --resume (or with --resume-if-any) to start "
                              "fresh")
        return StartPlan(None, (*notes, f"no complete checkpoint in {output_dir}: starting "
                                      "fresh"), tuple(incomplete))
    newest = complete[-1]
    saved = json.loads((newest / MARKER).read_text(encoding="utf-8"))["config"]
    if differences := config_differences(saved, config):
        if not force:
            raise ResumeError(f"--resume: {newest} was trained with other settings ("
                              + "; ".join(differences) + "); resume with the same settings, "
                              "or pass --force to start fresh (deletes the checkpoints)")
        return StartPlan(None, (f"--force: settings differ from {newest}; starting fresh",),
                         tuple(complete + incomplete))
    return StartPlan(str(newest), (*notes, f"resuming from {newest}"), tuple(incomplete))


def apply_plan(plan: StartPlan) -> None:
    for folder in plan.remove:
        remove_tree(folder)
