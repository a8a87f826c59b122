"""Six-camera stitching exactly as the reference `internvl_chat/tools/images_stitching.py`.

Each camera is opened as RGB, resized to 896x448 (PIL default filter: BICUBIC), labelled with
its name at (0, 0) in magenta DejaVuSans-Bold 50 px, and pasted into a black 2688x896 canvas
(row k // 3, col k % 3 in CAM_FRONT_LEFT, CAM_FRONT, CAM_FRONT_RIGHT, CAM_BACK_LEFT, CAM_BACK,
CAM_BACK_RIGHT order); the canvas is saved with Pillow's default JPEG settings (quality 75).

Reference bugs fixed (spec training.md §9.4): `../nuscenes/samples/...` resolves under the data
root instead of `/nuscenes`; the font is a parameter with a clear error when absent; frames are
not read through a global; sources that are not 1600x900 are rejected (the evaluation
back-projection hard-codes that size); outputs are written atomically, skipped when present
unless forced, and produced by a process pool. Atomic outputs (issue 11, item 9): each JPEG
is written to a temp file in a hidden sibling of the output folder (same filesystem, outside the
DVC-tracked folder), fsynced and renamed; the sibling is removed on every exit path and, after
a kill -9, by the next run; a present output that is not a whole JPEG is stitched again.
A repeated frame id is reported and stitched once, as in the reference. `stitch_manifest.json`
next to the outputs records what their bytes depend on besides the inputs: the font file's
sha256 and the Pillow, FreeType and libjpeg versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import PIL
from PIL import Image, ImageDraw, ImageFont, features
from tqdm import tqdm

from internvl_da.data.coords import CAMERA_ORDER, CELL_H, CELL_W, SOURCE_H, SOURCE_W
from internvl_da.data.errors import SampleError
from internvl_da.fileio import fsync_dir, write_json

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
        image = _load_camera(camera_paths[cam], cam, frame_id)
        ImageDraw.Draw(image).text((0, 0), cam, LABEL_COLOUR, font=font)
        canvas.paste(image, ((k % 3) * CELL_W, (k // 3) * CELL_H))
    return canvas


def _load_camera(path: str | Path, cam: str, frame_id: str) -> Image.Image:
    """One camera as RGB 896x448 (BICUBIC, PIL's default for resize)."""
    where = f"frame {frame_id}: camera {cam}"
    try:
        with Image.open(path) as src:
            if src.size != (SOURCE_W, SOURCE_H):
                # The evaluation back-projection assumes 1600x900 (training.md §9.4 bug 5).
                raise SampleError(str(path), None, f"{where} is {src.size[0]}x{src.size[1]}, "
                                  f"expected {SOURCE_W}x{SOURCE_H}")
            return src.convert("RGB").resize((CELL_W, CELL_H))
    except FileNotFoundError:
        raise SampleError(str(path), None, f"{where} image not found") from None
    except OSError as exc:  # unreadable, corrupt or truncated file
        raise SampleError(str(path), None, f"{where} image unreadable: {exc}") from None


def resolve_camera_path(data_root: str | Path, rel: str) -> Path:
    """DriveLM's `../nuscenes/samples/X` lives at `ROOT/nuscenes/samples/X` (bug fix)."""
    return Path(data_root) / rel.removeprefix("../")


def list_frames(raw: dict, data_root: str | Path,
                source: str = "") -> tuple[list[tuple[str, dict]], list[str]]:
    """([(frame id `{scene}_{frame}`, camera -> path)], duplicate ids) over every key frame.

    As the reference, a repeated frame id is reported and stitched once; a repeat whose camera
    files differ is an error (one output name cannot hold two images).
    """
    frames: dict[str, dict] = {}
    duplicates = []
    for scene, info in raw.items():
        if not isinstance(info, dict) or not isinstance(info.get("key_frames"), dict):
            raise SampleError(source, None, f"scene {scene}: no 'key_frames' object")
        for frame, data in info["key_frames"].items():
            frame_id = f"{scene}_{frame}"
            paths = _camera_paths(data, data_root, frame_id, source)
            if frame_id in frames:
                if frames[frame_id] != paths:
                    raise SampleError(source, None, f"duplicate frame id {frame_id} with "
                                      "different image paths")
                duplicates.append(frame_id)
                continue
            frames[frame_id] = paths
    return list(frames.items()), duplicates


def _camera_paths(data: dict, data_root: str | Path, frame_id: str, source: str) -> dict:
    paths = data.get("image_paths") if isinstance(data, dict) else None
    if not isinstance(paths, dict):
        raise SampleError(source, None, f"frame {frame_id}: no 'image_paths' object")
    missing = [cam for cam in CAMERA_ORDER if cam not in paths]
    if missing:
        raise SampleError(source, None, f"frame {frame_id}: no image path for {missing}")
    return {cam: resolve_camera_path(data_root, paths[cam]) for cam in CAMERA_ORDER}


def _save_atomic(image: Image.Image, path: Path, staging: Path) -> None:
    """JPEG bytes to a temp file in `staging` (a sibling of the output folder on the same
    filesystem, outside the DVC-tracked folder), fsynced, then renamed to `path`: the final
    name only ever holds a whole file (issue 11, item 9)."""
    tmp = staging / f"{path.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as handle:
            image.save(handle, format="JPEG")  # Pillow defaults: quality 75, 4:2:0 (reference)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def is_whole_jpeg(path: Path) -> bool:
    """A kept output must be a whole JPEG of the canvas size: SOI first, EOI last (a file cut
    by a full disk or a non-atomic copy has no EOI), and a 2688x896 header."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(2)
            handle.seek(max(size - 2, 0))
            tail = handle.read(2)
        if head != b"\xff\xd8" or tail != b"\xff\xd9":
            return False
        with Image.open(path) as img:
            return img.format == "JPEG" and img.size == (3 * CELL_W, 2 * CELL_H)
    except (OSError, SyntaxError, ValueError):
        return False


def _stitch_job(job: tuple[str, dict, str, str, str]) -> tuple[str, int | None, str] | None:
    """Stitch and save one frame; a bad input comes back as SampleError's fields.

    SampleError cannot be unpickled (its __init__ takes three arguments), so an error raised
    in a pool worker would not reach the parent; it is returned as data and re-raised there.
    """
    frame_id, paths, out_dir, font_path, staging = job
    try:
        image = stitch_frame(paths, font_path, frame_id)
    except SampleError as exc:
        return exc.source, exc.line, exc.reason
    _save_atomic(image, Path(out_dir) / f"{frame_id}.jpg", Path(staging))
    return None


def staging_dir(out: Path) -> Path:
    """This run's temp folder: a hidden sibling of `out` (same filesystem, so the rename into
    `out` is atomic; not inside the tracked folder, so a kill -9 leaves `out` clean)."""
    return out.parent / f".{out.name}.partial-{os.getpid()}"


def _clean_leftovers(out: Path) -> None:
    """Temp files of killed runs: staging siblings of dead processes, and `.NAME.PID.tmp`
    files that earlier versions wrote inside `out`."""
    for folder in out.parent.glob(f".{out.name}.partial-*"):
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    for stray in out.glob(".*.tmp"):
        stray.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_jobs(todo: list[tuple[str, dict, str, str, str]], workers: int) -> None:
    """Every job; on any exit (a camera error in one worker, Ctrl-C) the pool is stopped and
    joined before returning, so no worker writes after the caller removes the staging folder."""
    pool = None
    try:
        with tqdm(total=len(todo), desc="stitch", unit="frame", leave=False) as bar:
            if workers > 1 and len(todo) > 1:
                pool = get_context("spawn").Pool(min(workers, len(todo)))
                results = pool.imap_unordered(_stitch_job, todo)
            else:
                results = map(_stitch_job, todo)
            for error in results:
                if error is not None:
                    raise SampleError(*error)
                bar.update()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


@dataclass(frozen=True)
class StitchSummary:
    """What one stitching run did; `duplicates` lists repeated frame ids (stitched once)."""

    out_dir: str
    frames: int
    written: int
    skipped: int
    duplicates: tuple[str, ...] = ()
    replaced: int = 0  # outputs present but not a whole JPEG (cut by a full disk), re-stitched

    def __str__(self) -> str:
        text = (f"stitched {self.written} frames into {self.out_dir} "
                f"({self.skipped} already present, {self.frames} in the annotation)")
        if self.replaced:
            text += f"; {self.replaced} present but incomplete, stitched again"
        if self.duplicates:
            shown = ", ".join(self.duplicates[:5]) + (" ..." if len(self.duplicates) > 5 else "")
            text += f"; {len(self.duplicates)} duplicate frame ids stitched once: {shown}"
        return text


def stitch_all(data_root: str | Path, ann_file: str | Path, out_dir: str | Path | None = None,
               workers: int = 1, force: bool = False,
               font_path: str | Path | None = None) -> StitchSummary:
    """Stitch every key frame of a DriveLM annotation file into `out_dir` (default ROOT/stitch).

    Existing outputs are kept unless `force`. Without `force`, the folder's manifest (left by
    earlier runs, of any split) must match this font and Pillow build, else the folder would
    mix two renderings; a folder with kept outputs but no manifest is refused too.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    font = find_font(font_path)
    raw = json.loads(Path(ann_file).read_text(encoding="utf-8"))
    frames, duplicates = list_frames(raw, data_root, str(ann_file))
    out = Path(out_dir) if out_dir else Path(data_root) / "stitch"
    out.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(out)
    staging = staging_dir(out)
    present = {fid for fid, _ in frames if (out / f"{fid}.jpg").exists()}
    broken = {fid for fid in present if not force and not is_whole_jpeg(out / f"{fid}.jpg")}
    todo = [(fid, paths, str(out), str(font), str(staging)) for fid, paths in frames
            if force or fid not in present or fid in broken]
    manifest = _manifest(font)
    if not force:
        _check_manifest(out, manifest, kept=len(frames) - len(todo))
    write_json(out / MANIFEST_NAME, manifest)  # first, so that an interrupted run can resume
    staging.mkdir(exist_ok=True)
    try:
        _run_jobs(todo, workers)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(out)  # make the renames durable
    return StitchSummary(str(out), len(frames), len(todo), len(frames) - len(todo),
                         tuple(duplicates), len(broken))


def _manifest(font: Path) -> dict:
    # What the output bytes depend on besides the inputs (training.md §9.4 "Reproducibility").
    return {"font_file": font.name, "font_sha256": hashlib.sha256(font.read_bytes()).hexdigest(),
            "font_size": FONT_SIZE, "pillow": PIL.__version__,
            "freetype": features.version("freetype2"), "libjpeg": features.version("jpg"),
            "libjpeg_turbo": features.version("libjpeg_turbo")}


def _check_manifest(out: Path, manifest: dict, kept: int) -> None:
    """An output folder holds frames of one font and Pillow build (checked across splits)."""
    path = out / MANIFEST_NAME
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if (old is None and kept) or (old is not None and old != manifest):
        why = "is missing" if old is None else "differs in " + ", ".join(
            sorted(k for k in manifest if old.get(k) != manifest[k]))
        raise ValueError(f"{out} holds stitched frames but its {MANIFEST_NAME} {why}; pass "
                         "--force to re-stitch all of them, or use another --out")
