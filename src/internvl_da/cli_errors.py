"""Which exceptions are the user's to fix, and how to say them in one line.

Issue 11 (item 12): bad input, bad arguments and missing files print `internvl-da: file:line:
reason` and exit 1; a traceback is for real bugs (or `--debug`). Expected are:
- ValueError (the project's SampleError, ParamsError, JudgeError and JSON errors are
  ValueErrors) and OSError (missing file, permission, full disk, network);
- any exception raised by an explicit `raise` statement in the project's own code with a
  message: the project's modules state the file and the reason where they raise
  (e.g. model/convert.py's `KeyError("SRC: tensors missing for ...")`).
A KeyError, TypeError or AttributeError thrown by an expression (`d[k]`, `None.x`) is a bug.
"""

from __future__ import annotations

import linecache
import traceback
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _raised_by_project(exc: BaseException) -> bool:
    """True when the innermost frame is a `raise X(...)` line of internvl_da's own source."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    try:
        inside = Path(last.filename).resolve().is_relative_to(PACKAGE_DIR)
    except OSError:
        return False
    line = linecache.getline(last.filename, last.lineno).strip()
    return inside and line.startswith("raise ") and bool(exc.args)


def expected(exc: BaseException) -> bool:
    """An error the user can fix from its message (no traceback needed)."""
    if isinstance(exc, (ValueError, OSError)):
        return True
    return isinstance(exc, Exception) and _raised_by_project(exc)


def one_line(exc: BaseException) -> str:
    """`file:line: reason` as the exception states it; OSErrors as `path: strerror`."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    elif len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]  # str(KeyError('m')) would quote it
    else:
        text = str(exc) or type(exc).__name__
    return text.strip() or type(exc).__name__
