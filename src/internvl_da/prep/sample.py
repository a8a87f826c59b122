"""The embedded sample data: every raw format the project reads, generated deterministically,
and a miniature of the released InternVL-Domain-Adaptation-Data built from them
(prep/sample_released.py) that the default pipeline trains and evaluates on.

Layout and formats: docs/data-formats.md. Same seed => identical bytes (fixed JSON key order,
no timestamps, no absolute paths, explicit encoder settings). Written into a temporary sibling
directory and renamed at the end, so an interruption leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from internvl_da.prep import (
    sample_custom,
    sample_driving,
    sample_general,
    sample_released,
    sample_remote,
)

GENERATOR_VERSION = 4  # 4: custom/ (your own domain's images and tables)
JPEG_QUALITY = 90


class Writer:
    """Writes files under one root with deterministic encodings."""

    def __init__(self, root: Path, show_progress: bool = True) -> None:
        self.root = root
        self.show_progress = show_progress

    def _path(self, rel: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def image(self, rel: str, image: Image.Image, fmt: str = "JPEG") -> None:
        if fmt == "JPEG":
            image.save(self._path(rel), format="JPEG", quality=JPEG_QUALITY)
        elif fmt == "TIFF":
            image.save(self._path(rel), format="TIFF", compression="tiff_adobe_deflate")
        else:
            image.save(self._path(rel), format=fmt)

    def json(self, rel: str, obj) -> None:
        self.text(rel, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")

    def jsonl(self, rel: str, rows: list[dict]) -> None:
        self.text(rel, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def text(self, rel: str, text: str) -> None:
        self._path(rel).write_text(text, encoding="utf-8")

    def progress(self, iterable, desc: str):
        return tqdm(iterable, desc=desc, leave=False, disable=not self.show_progress)


@dataclass
class SampleSummary:
    out_dir: str
    seed: int
    parts: dict[str, dict] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [f"sample data in {self.out_dir} (seed {self.seed}): {self.files} files, "
                 f"{self.bytes / 1e6:.1f} MB, {self.seconds:.1f} s"]
        lines += [f"  {name:14s} " + ", ".join(f"{k} {v}" for k, v in counts.items())
                  for name, counts in self.parts.items()]
        return "\n".join(lines)


def _write_all(writer: Writer, seed: int, scale: int) -> dict[str, dict]:
    # Each part gets its own generator so that parts do not shift each other's content.
    def rng(part: str) -> random.Random:
        return random.Random(f"{seed}:{part}")

    parts = {
        "drivelm": sample_driving.write_drivelm(writer, rng("drivelm"), 4 * scale, 2 * scale),
        "mme_realworld": sample_driving.write_mme_realworld(writer, rng("mme"), 10 * scale),
        "rsvqa": sample_remote.write_rsvqa(writer, rng("rsvqa"), scale),
        "dior_rsvg": sample_remote.write_dior_rsvg(writer, rng("dior"), 14 * scale),
        "geochat": sample_remote.write_geochat(writer, rng("geochat"), 14 * scale),
        "medical": sample_general.write_medical(writer, rng("medical"), 20 * scale),
        "gmai": sample_general.write_gmai(writer, rng("gmai"), 14 * scale),
        "general": sample_general.write_general(writer, rng("general"), 3 * scale),
        "custom": sample_custom.write_custom(writer, rng("custom"), 4 * scale),
    }
    # The released layout, converted from the raw parts above (needs no generator).
    parts["released"] = sample_released.write_released(writer)
    return parts


def _manifest(root: Path, seed: int, scale: int) -> tuple[dict, int]:
    files, total = [], 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        total += len(data)
        files.append({"path": path.relative_to(root).as_posix(), "bytes": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})
    return {"generator_version": GENERATOR_VERSION, "seed": seed, "scale": scale,
            "files": files}, total


def generate_sample(out_dir: str | Path, seed: int = 0, force: bool = False, scale: int = 3,
                    show_progress: bool = True) -> SampleSummary:
    """Generate the sample dataset into `out_dir` (must be absent or empty unless `force`)."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} is not empty; pass --force to replace it")
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    start = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        parts = _write_all(Writer(staging, show_progress), seed, scale)
        manifest, total = _manifest(staging, seed, scale)
        Writer(staging).json("MANIFEST.json", manifest)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SampleSummary(str(out), seed, parts, len(manifest["files"]) + 1, total,
                         time.perf_counter() - start)
