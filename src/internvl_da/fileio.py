"""Complete-or-nothing file writes, and JSON read with errors that name the file and line.

Whole files: written to a temporary name in the same folder, flushed, fsynced, renamed over the
target (os.replace, atomic on POSIX) and the folder fsynced; on any error the temporary file is
removed, so a full disk or a kill leaves the old file or none, never a truncated one under the
final name (issue 11 item 9). Appended JSON lines (`LineAppender`): each append is written,
fsynced, or cut back to the last complete line on OSError (issue 11 item 8); a trailing partial
line left by a kill is found and cut by `cut_partial_last_line`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(folder: str | Path) -> None:
    """Make a rename durable: fsync the folder that holds the entry (POSIX; no-op elsewhere).
    Some filesystems refuse fsync on folders: the rename itself stays atomic, so that is no
    error."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


def fsync_file(path: str | Path) -> None:
    """Flush a file's data to disk (before the rename that publishes it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def staged_folder(dst: str | Path) -> Iterator[Path]:
    """Build folder `dst` complete-or-nothing: yields a fresh hidden sibling (same filesystem);
    when the block succeeds, every file in it is fsynced and it is renamed to `dst` (a previous
    `dst` is renamed away first, then removed, so a kill leaves the old folder or the new one
    plus a hidden leftover); on any error the sibling goes and `dst` is untouched. Used by
    convert, the native hub download and a fine-tune's final/ and adapter/ (issue 11)."""
    dst = Path(dst)
    staging = dst.parent / f".{dst.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        yield staging
        for path in staging.rglob("*"):
            if path.is_file():
                fsync_file(path)
        if dst.exists():
            old = dst.parent / f".{dst.name}.replaced-{os.getpid()}"
            os.replace(dst, old)
            os.replace(staging, dst)
            shutil.rmtree(old)
        else:
            os.replace(staging, dst)
        fsync_dir(dst.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """`data` under `path` in full, or (on any error) no change to `path` and no temp file left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # mode 0o666 less the umask, as a plain open() would give (mkstemp's 0o600 would not)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            raise OSError(exc.errno, f"not written ({exc.strerror or exc}); the previous "
                          "file, if any, is unchanged", str(path)) from exc
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json(path: str | Path, obj, indent: int | None = 1) -> None:
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json_object(path: str | Path) -> dict:
    """A JSON file holding one object; invalid JSON or another type is an error naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def cut_partial_last_line(path: str | Path) -> int | None:
    """Cut a last line that lacks its newline (an append stopped by a kill or a full disk).

    Returns the cut line's 1-based number, or None when the file is missing or ends with a
    complete line. `LineAppender` writes each line with its newline in one append, so a line
    without one is unfinished even where its text happens to parse.
    """
    path = Path(path)
    if not path.is_file():
        return None
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return None
    keep = data.rfind(b"\n") + 1
    with open(path, "r+b") as handle:
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    return data.count(b"\n", 0, keep) + 1


def read_jsonl_objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line; invalid JSON or a non-object is an error
    naming `file:line` (never a bare JSONDecodeError)."""
    path = Path(path)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: invalid JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, found "
                                 f"{type(record).__name__}")
            yield number, record


class LineAppender:
    """Appends JSON lines to a file, each call complete or not at all.

    A call writes its lines with their newlines, then fsyncs; an OSError (ENOSPC on a full
    disk, EIO) truncates the file back to its size before the call and is raised again naming
    the file, so the file always ends with a complete line.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size

    def append(self, rows: Iterable[dict]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
        if not data:
            return
        try:
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError as exc:
            os.ftruncate(self._fd, self._size)
            raise OSError(exc.errno, f"could not append ({exc.strerror or exc}); cut back to "
                          "its last complete line, rerun to resume", str(self.path)) from exc
        self._size += len(data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> LineAppender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
