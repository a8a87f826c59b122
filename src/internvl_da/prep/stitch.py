"""Six-camera stitching exactly as the reference `internvl_chat/tools/images_stitching.py`.

Each camera is opened as RGB, resized to 896x448 (PIL default filter: BICUBIC), labelled with
its name at (0, 0) in magenta DejaVuSans-Bold 50 px, and pasted into a black 2688x896 canvas
(row k // 3, col k % 3 in CAM_FRONT_LEFT, CAM_FRONT, CAM_FRONT_RIGHT, CAM_BACK_LEFT, CAM_BACK,
CAM_BACK_RIGHT order); the canvas is saved with Pillow's default JPEG settings (quality 75).

Reference bugs fixed (spec training.md §9.4): `../nuscenes/samples/...` resolves under the data
root instead of `/nuscenes`; the font is a parameter with a clear error when absent; frames are
not read through a global; sources that are not 1600x900 are rejected (the evaluation
back-projection hard-codes that size); outputs are written atomically, skipped when present
unless forced, and produced by a process pool.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import PIL
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from internvl_da.data.coords import CAMERA_ORDER, CELL_H, CELL_W, SOURCE_H, SOURCE_W
from internvl_da.data.errors import SampleError
from internvl_da.fileio import write_json

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",  # Debian/Ubuntu fonts-dejavu-core
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",  # Fedora/CentOS (the reference's path)
)
FONT_SIZE = 50
LABEL_COLOUR = (255, 0, 255)
MANIFEST_NAME = "stitch_manifest.json"


def find_font(path: str | Path | None = None) -> Path:
    """The label font: `path` if given, else the first installed DejaVuSans-Bold.ttf."""
    candidates = [path] if path else FONT_CANDIDATES
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        f"font not found: {path or ' or '.join(FONT_CANDIDATES)}. Install DejaVuSans-Bold.ttf "
        "(Debian/Ubuntu: apt-get install fonts-dejavu-core) or pass --font FILE")


@lru_cache(maxsize=4)
def _font(path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, FONT_SIZE)


def stitch_frame(camera_paths: dict[str, str | Path], font_path: str | Path,
                 frame_id: str = "") -> Image.Image:
    """The 2688x896 canvas of one frame (pure: same files => same pixels)."""
    canvas = Image.new("RGB", (3 * CELL_W, 2 * CELL_H))
    font = _font(str(font_path))
    for k, cam in enumerate(CAMERA_ORDER):
        path = camera_paths[cam]
        try:
            with Image.open(path) as src:
                if src.size != (SOURCE_W, SOURCE_H):
                    raise SampleError(str(path), None, f"frame {frame_id}: camera {cam} is "
                                      f"{src.size[0]}x{src.size[1]}, expected 1600x900")
                image = src.convert("RGB").resize((CELL_W, CELL_H))
        except FileNotFoundError:
            raise SampleError(str(path), None, f"frame {frame_id}: camera {cam} image not found")\
                from None
        ImageDraw.Draw(image).text((0, 0), cam, LABEL_COLOUR, font=font)
        canvas.paste(image, ((k % 3) * CELL_W, (k // 3) * CELL_H))
    return canvas


def resolve_camera_path(data_root: str | Path, rel: str) -> Path:
    """DriveLM's `../nuscenes/samples/X` lives at `ROOT/nuscenes/samples/X` (bug fix)."""
    return Path(data_root) / rel.removeprefix("../")


def list_frames(raw: dict, data_root: str | Path, source: str = "") -> list[tuple[str, dict]]:
    """(frame id `{scene}_{frame}`, camera -> path) for every key frame; duplicates rejected."""
    frames, seen = [], set()
    for scene, info in raw.items():
        for frame, data in info.get("key_frames", {}).items():
            frame_id = f"{scene}_{frame}"
            if frame_id in seen:
                raise SampleError(source, None, f"duplicate frame id {frame_id}")
            seen.add(frame_id)
            paths = data.get("image_paths", {})
            missing = [cam for cam in CAMERA_ORDER if cam not in paths]
            if missing:
                raise SampleError(source, None, f"frame {frame_id}: no image path for {missing}")
            frames.append((frame_id, {cam: resolve_camera_path(data_root, paths[cam])
                                      for cam in CAMERA_ORDER}))
    return frames


def _save_atomic(image: Image.Image, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    image.save(tmp, format="JPEG")  # Pillow defaults: quality 75, 4:2:0, as the reference
    os.replace(tmp, path)


def _stitch_job(job: tuple[str, dict, str, str]) -> str:
    frame_id, paths, out_dir, font_path = job
    _save_atomic(stitch_frame(paths, font_path, frame_id), Path(out_dir) / f"{frame_id}.jpg")
    return frame_id


@dataclass(frozen=True)
class StitchSummary:
    out_dir: str
    frames: int
    written: int
    skipped: int

    def __str__(self) -> str:
        return (f"stitched {self.written} frames into {self.out_dir} "
                f"({self.skipped} already present, {self.frames} in the annotation)")


def stitch_all(data_root: str | Path, ann_file: str | Path, out_dir: str | Path | None = None,
               workers: int = 1, force: bool = False,
               font_path: str | Path | None = None) -> StitchSummary:
    """Stitch every key frame of a DriveLM annotation file into `out_dir` (default ROOT/stitch)."""
    font = find_font(font_path)
    raw = json.loads(Path(ann_file).read_text(encoding="utf-8"))
    frames = list_frames(raw, data_root, str(ann_file))
    out = Path(out_dir) if out_dir else Path(data_root) / "stitch"
    out.mkdir(parents=True, exist_ok=True)
    todo = [(fid, paths, str(out), str(font)) for fid, paths in frames
            if force or not (out / f"{fid}.jpg").exists()]
    bar = tqdm(total=len(todo), desc="stitch", unit="frame", leave=False)
    if workers > 1 and len(todo) > 1:
        with get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_stitch_job, todo):
                bar.update()
    else:
        for job in todo:
            _stitch_job(job)
            bar.update()
    bar.close()
    _write_manifest(out, font)
    return StitchSummary(str(out), len(frames), len(todo), len(frames) - len(todo))


def _write_manifest(out: Path, font: Path) -> None:
    # What the output bytes depend on besides the inputs (spec §9.4 "Reproducibility").
    font_sha = hashlib.sha256(font.read_bytes()).hexdigest()
    write_json(out / MANIFEST_NAME, {
        "font_file": font.name, "font_sha256": font_sha, "font_size": FONT_SIZE,
        "pillow": PIL.__version__, "freetype": ImageFont.core.freetype2_version})
