"""Reading benchmark files as released, with errors that name the file, the record and the reason.

The released val files (InternVL-Domain-Adaptation-Data `val/`, MME-RealWorld's JSON) are read
as they are; a record the reference would crash on (KeyError, wrong type) is an error here that
says where, instead of a traceback from deep inside a loader. JSON lists are located by record
number (1-based, in file order), JSON lines by line number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def read_json_list(path: Path) -> Iterator[tuple[str, dict]]:
    """(where, record) for each object of a JSON list file; `where` = 'FILE: record K'."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: annotation file not found") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of records, found {type(data).__name__}")
    for number, record in enumerate(data, 1):
        where = f"{path}: record {number}"
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected an object, found {type(record).__name__}")
        yield where, record


def read_jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    """(where, record) for each non-empty line of a JSON-lines file; `where` = 'FILE:LINE'."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: annotation file not found") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: invalid JSON: {exc.msg}") from None
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected an object, found {type(record).__name__}")
        yield where, record


def need(record: dict, key: str, kinds: type | tuple[type, ...], where: str):
    """record[key], which must exist and be of `kinds` (bool is not accepted as a number)."""
    if key not in record:
        raise ValueError(f"{where}: missing field {key!r}")
    value = record[key]
    numeric = kinds in (int, float) or (isinstance(kinds, tuple) and int in kinds)
    if not isinstance(value, kinds) or (numeric and isinstance(value, bool)):
        names = kinds.__name__ if isinstance(kinds, type) else " or ".join(
            k.__name__ for k in kinds)
        raise ValueError(f"{where}: field {key!r} must be {names}, found "
                         f"{type(value).__name__} {value!r:.60}")
    return value
