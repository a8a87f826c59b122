"""What produced an eval output folder, and resuming into it only when that matches.

Issue 11 item 1: `eval` resumed into any `--out`, so evaluating the untrained base model into
the folder of the adapted one reported the adapted model's score for the base model. Now the
folder's `identity.json` (written before the first prediction) records the model (the sha256
of its weights as loaded, and the checkpoint folder), the benchmark, the annotation file's
sha256 and the generation settings (with the dtype); a run whose identity differs refuses,
naming what differs, unless `force` discards the old predictions. Paths are recorded but not
compared: the same weights and inputs moved elsewhere are the same run. `--limit` and
`--batch-size` are not part of the identity: a longer run resuming a shorter one is the
intended use (batched == sequential generation, tests).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from internvl_da.fileio import cut_partial_last_line, read_jsonl_objects, write_json

IDENTITY = "identity.json"
# Recorded for the reader, not compared (see the module docstring).
UNCOMPARED = (("checkpoint", "path"), ("annotation", "path"), ("images",))


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_identity(bench: str, checkpoint: Mapping, annotation: Path, image_root: Path,
                 settings: Mapping) -> dict:
    """The identity of one eval run (JSON-ready, no timestamps: identical runs agree)."""
    return {"benchmark": bench, "checkpoint": dict(checkpoint),
            "annotation": {"path": str(annotation), "sha256": file_sha256(annotation)},
            "images": str(image_root), "settings": dict(settings)}


def _comparable(identity: Mapping) -> dict:
    kept = json.loads(json.dumps(identity))
    for keys in UNCOMPARED:
        holder = kept
        for key in keys[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict):
            holder.pop(keys[-1], None)
    return kept


def differences(old: Mapping, new: Mapping) -> list[str]:
    """'field: old -> new' for each compared field that differs (nested fields dotted)."""
    out: list[str] = []

    def walk(a, b, prefix: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix[:-1]}: {json.dumps(a)[:80]} -> {json.dumps(b)[:80]}")

    walk(_comparable(old), _comparable(new), "")
    return out


def claim_output(out: Path, identity: Mapping, own_files: list[Path], *,
                 force: bool = False) -> None:
    """Make `out` this run's: refuse predictions of another run unless `force`, which deletes
    `own_files` (this rank's predictions; rank 0 also the merged file and metrics), then
    record `identity`. Each rank deletes only its own files, so ranks never race."""
    recorded = out / IDENTITY
    held = sorted(p.name for p in out.glob("predictions*.jsonl")) if out.is_dir() else []
    if force:
        for path in own_files:
            path.unlink(missing_ok=True)
    elif recorded.is_file():
        try:
            old = json.loads(recorded.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{recorded}:{exc.lineno}: invalid JSON ({exc.msg}); cannot tell "
                             "what produced the predictions here: rerun with --force to "
                             "discard them") from None
        diff = differences(old, identity)
        if diff:
            raise ValueError(f"{out}: holds predictions of another run ({'; '.join(diff)}); "
                             "refusing to resume into it: choose another --out, or rerun "
                             "with --force to discard them")
    elif held:
        raise ValueError(f"{out}: holds {', '.join(held)} but no {IDENTITY}, so what produced "
                         "them is unknown; refusing to resume: choose another --out, or rerun "
                         "with --force to discard them")
    write_json(recorded, dict(identity))


def resume_file(path: Path) -> list[dict]:
    """Records already in a predictions file, after cutting a trailing partial line (a kill
    or a full disk during an append); the cut is reported on stderr naming file and line."""
    import sys

    cut = cut_partial_last_line(path)
    if cut is not None:
        print(f"{path}:{cut}: incomplete last line (an interrupted write) removed; that "
              "sample is predicted again", file=sys.stderr)
    if not path.is_file():
        return []
    return [record for _, record in read_jsonl_objects(path)]
