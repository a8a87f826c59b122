"""InternVL's training data formats: meta JSON, JSONL conversation files, records.

Reference: `internvl_chat/internvl/train/internvl_chat_finetune.py` (`build_datasets`,
`LazySupervisedDataset`) and spec training.md §8. Relative paths resolve against the current
working directory, as in the reference.

Record rules depend on the template's preprocess (`parse_record(..., template)`):
- InternVL2 templates (spec training.md §8.3): human/gpt turns alternating, a leading gpt turn
  dropped (`source[1:]`), no system turn.
- `internvl2_5` (InternVL3.5, spec internvl35.md §5, `preprocess_internvl2_5` and the loader of
  `internvl_chat_gpt_oss/.../internvl_chat_finetune.py`): an optional FIRST turn of role
  `system` (its value is the system prompt), then human/gpt turns in any order, a leading gpt
  turn KEPT and trained, at least one gpt turn. Rejected, each at file:line, what the reference
  crashes on (any other role, a system turn later, no image placeholder it can expand) or
  silently mis-trains on: `<image>` in a system or gpt turn or a text-only sample (never
  expanded: the model would train on the literal text), an image sample whose first turn is a
  gpt turn or whose first turn has no tag while a later one has (the loader puts `<image>\n`
  into the first turn, so the later tag stays literal text), an empty answer.
"""

from __future__ import annotations

import json
import os
import posixpath
import random
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from internvl_da.data.errors import SampleError
from internvl_da.data.templates import Template, get_template, leading_gpt_turn
from internvl_da.data.tokens import IMAGE_TAG

_CHUNK = 1 << 22  # 4 MiB reads while indexing
_BLANK_MAX = 64  # lines up to this many bytes are checked for being whitespace-only


# Every key the reference's `build_datasets` reads, plus `length` (spec training.md §8.1: in the
# released files, never read by the training code).
META_KEYS = ("root", "annotation", "data_augment", "repeat_time", "max_dynamic_patch", "length")


@dataclass(frozen=True)
class MetaEntry:
    """One dataset of a meta file."""

    name: str
    root: str
    annotation: str
    data_augment: bool
    repeat_time: float
    max_dynamic_patch: int | None = None


def _no_duplicate_keys(source: str):
    def hook(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise SampleError(source, None, f"duplicate key {key!r}")
            seen.add(key)
        return dict(pairs)

    return hook


def _meta_entry(source: str, name: str, raw) -> MetaEntry:
    def bad(reason: str) -> SampleError:
        return SampleError(source, None, f"dataset {name!r}: {reason}")

    if not isinstance(raw, dict):
        raise bad("entry must be an object")
    if unknown := sorted(set(raw) - set(META_KEYS)):  # a typo (`repeat_tmie`) is no default
        raise bad(f"unknown key {unknown[0]!r} (valid: {', '.join(META_KEYS)})")
    length = raw.get("length")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int)):
        raise bad(f"'length' must be an integer, got {length!r}")
    for key, kind in (("root", str), ("annotation", str), ("data_augment", bool)):
        if key not in raw:
            raise bad(f"missing required key {key!r}")
        if not isinstance(raw[key], kind):
            raise bad(f"{key!r} must be {kind.__name__}, got {type(raw[key]).__name__}")
    if "repeat_time" not in raw:
        raise bad("missing required key 'repeat_time'")
    repeat = raw["repeat_time"]
    if isinstance(repeat, bool) or not isinstance(repeat, int | float) or repeat <= 0:
        raise bad(f"'repeat_time' must be a positive number, got {repeat!r}")
    if repeat > 1 and not isinstance(repeat, int):  # reference asserts an int (2.0 fails too)
        raise bad(f"'repeat_time' above 1 must be an integer, got {repeat!r}")
    if not raw["annotation"].endswith("jsonl"):
        raise bad(f"annotation must be a .jsonl file, got {raw['annotation']!r}")
    patch = raw.get("max_dynamic_patch")
    if patch is not None and (isinstance(patch, bool) or not isinstance(patch, int) or patch < 1):
        raise bad(f"'max_dynamic_patch' must be a positive integer, got {patch!r}")
    return MetaEntry(name, raw["root"], raw["annotation"], raw["data_augment"], repeat, patch)


def load_meta(path: str | Path) -> dict[str, MetaEntry]:
    """Read a meta JSON (dataset name -> entry), in file order, with every key checked."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SampleError(source, None, "meta file not found") from None
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicate_keys(source))
    except json.JSONDecodeError as exc:
        raise SampleError(source, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(raw, dict) or not raw:
        raise SampleError(source, None, "meta file must be a non-empty JSON object")
    return {name: _meta_entry(source, name, entry) for name, entry in raw.items()}


def select_lines(num_lines: int, repeat_time: float, rng: random.Random | None = None) -> list[int]:
    """Line indices after `repeat_time` (applied before any shuffle, as the reference).

    r < 1: the first int(N*r) lines (reference), or a sorted seeded random subset if `rng`;
    r > 1: every line r times in order; r == 1: every line.
    """
    if repeat_time < 1:
        keep = int(num_lines * repeat_time)
        if rng is None:
            return list(range(keep))
        return sorted(rng.sample(range(num_lines), keep))
    if repeat_time > 1:
        return list(range(num_lines)) * int(repeat_time)
    return list(range(num_lines))


class JsonlIndex:
    """Random access to the non-empty lines of a JSONL file through a byte-offset index.

    Offsets and 1-based file line numbers live in two int64 arrays (16 bytes per line; blank
    lines are skipped). The file is opened lazily per process (reopened when the pid changes,
    i.e. after a fork) and the handle is never pickled, so the index is safe in DataLoader
    workers under fork and spawn.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if not os.path.isfile(self.path):
            where = "" if os.path.isabs(self.path) else (
                " (a relative path is taken from the current folder, as the reference does; "
                "a released train_meta is resolved under data/<data> by "
                "`internvl-da stage released-meta`)")
            raise SampleError(self.path, None, f"annotation file not found{where}")
        self.offsets, self.line_numbers = _scan(self.path)
        self._handle = None
        self._pid = None

    def __len__(self) -> int:
        return len(self.offsets)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handle"], state["_pid"] = None, None
        return state

    def _file(self):
        if self._handle is None or self._pid != os.getpid():
            self._handle = open(self.path, "rb")  # noqa: SIM115 - kept open for random access
            self._pid = os.getpid()
        return self._handle

    def line_number(self, i: int) -> int:
        """1-based line number in the file of record i."""
        return int(self.line_numbers[i])

    def raw(self, i: int) -> bytes:
        handle = self._file()
        handle.seek(int(self.offsets[i]))
        return handle.readline()

    def __getitem__(self, i: int) -> dict:
        try:
            obj = json.loads(self.raw(i))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SampleError(self.path, self.line_number(i), f"invalid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise SampleError(self.path, self.line_number(i), "line is not a JSON object")
        return obj


def _scan(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and 1-based line numbers of non-blank lines, scanning in binary chunks."""
    starts: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        base = 0
        while chunk := handle.read(_CHUNK):
            newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            starts.append(newlines.astype(np.int64) + base + 1)
            base += len(chunk)
    all_starts = np.concatenate(starts)
    all_starts = all_starts[all_starts < size]  # no line starts at EOF
    line_numbers = np.arange(1, len(all_starts) + 1, dtype=np.int64)
    ends = np.append(all_starts[1:], size)
    keep = ends - all_starts > 0
    # Drop whitespace-only lines. Only short lines get a look (cheap: no real record is that
    # short); a longer whitespace-only line stays and is reported as invalid JSON at its line.
    with open(path, "rb") as handle:
        for k in np.flatnonzero(keep & (ends - all_starts <= _BLANK_MAX)):
            handle.seek(int(all_starts[k]))
            keep[k] = bool(handle.read(int(ends[k] - all_starts[k])).strip())
    return all_starts[keep], line_numbers[keep]


@dataclass(frozen=True)
class Record:
    """One validated JSONL line: images relative to the dataset root, conversations cleaned."""

    id: str
    images: list[str]
    kind: str  # "single" | "multi" | "text"
    conversations: list[dict] = field(default_factory=list)
    dropped_gpt_turn: bool = False  # a leading gpt turn was dropped (reference, spec §8.3)


def _images(obj: dict, bad) -> tuple[list[str], str]:
    """(images, kind) by the reference dispatch order (`LazySupervisedDataset.__getitem__`)."""
    image = obj.get("image")
    if isinstance(image, str | list) and len(image) == 0:
        image = None  # reference: an empty `image` falls through to video / pure text
    if isinstance(image, str):
        return [image], "single"
    if isinstance(image, list):
        if not all(isinstance(i, str) and i for i in image):
            raise bad("'image' list must hold non-empty path strings")
        return list(image), "multi"
    if image is not None:
        raise bad(f"'image' must be a string or a list, got {type(image).__name__}")
    if obj.get("video"):
        raise bad("video samples are not supported")
    return [], "text"


def _raw_turns(obj: dict, bad) -> list[dict]:
    turns = obj.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise bad("'conversations' must be a non-empty list")
    for k, turn in enumerate(turns, 1):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise bad(f"turn {k}: must be an object with a string 'value'")
    return turns


def _turns(obj: dict, bad) -> list[dict]:
    """Checked human/gpt turns after dropping a leading gpt turn (turns numbered as in the file)."""
    turns = _raw_turns(obj, bad)
    for k, turn in enumerate(turns, 1):
        if turn.get("from") not in ("human", "gpt"):  # reference templates: KeyError
            raise bad(f"turn {k}: unsupported role {turn.get('from')!r} (human/gpt only)")
    dropped = int(leading_gpt_turn(turns))  # reference preprocess: source[1:], not an error
    turns = turns[dropped:]
    if not turns or len(turns) % 2:
        raise bad("conversation must be human/gpt pairs ending with a gpt answer")
    for k, turn in enumerate(turns):
        if turn["from"] != ("human" if k % 2 == 0 else "gpt"):
            raise bad(f"roles must alternate human/gpt (turn {k + 1 + dropped} is "
                      f"{turn['from']!r})")
        if turn["from"] == "gpt" and not turn["value"].strip():
            raise bad(f"empty answer in turn {k + 1 + dropped}")
        if turn["from"] == "gpt" and IMAGE_TAG in turn["value"]:
            raise bad(f"<image> tag in the answer of turn {k + 1 + dropped}")
    return [dict(t) for t in turns]


def _turns_internvl2_5(obj: dict, bad) -> list[dict]:
    """Checked turns of the `internvl2_5` template (module docstring), the system turn kept."""
    turns = _raw_turns(obj, bad)
    for k, turn in enumerate(turns, 1):
        role, value = turn.get("from"), turn["value"]
        if role == "system" and k > 1:  # reference: NotImplementedError
            raise bad(f"turn {k}: a system turn may only be the first turn")
        if role not in ("system", "human", "gpt"):  # reference: NotImplementedError
            raise bad(f"turn {k}: unsupported role {role!r} (a first system turn, then "
                      "human/gpt)")
        if role == "gpt" and not value.strip():
            raise bad(f"empty answer in turn {k}")
        if role != "human" and IMAGE_TAG in value:  # never expanded: trained as literal text
            raise bad(f"<image> tag in the {role} turn {k} (only human turns get images)")
    if not any(turn["from"] == "gpt" for turn in turns):
        raise bad("conversation has no gpt answer to train on")
    return [dict(t) for t in turns]


def _check_tags_internvl2_5(turns: list[dict], images: list[str], kind: str, bad) -> None:
    """The image rules of `internvl2_5` (module docstring); tags count in human turns only."""
    tags = sum(t["value"].count(IMAGE_TAG) for t in turns if t["from"] == "human")
    if kind == "text":
        if tags:
            raise bad(f"{tags} <image> tags but no image")
        return
    k = int(turns[0]["from"] == "system")
    if k >= len(turns) or turns[k]["from"] != "human":
        raise bad(f"turn {k + 1}: an image sample must start with a human turn (the reference "
                  "puts the image placeholder into the first turn, never expanded in a gpt turn)")
    if kind == "multi" and tags != len(images):
        raise bad(f"{tags} <image> tags for {len(images)} images")
    if kind == "single" and tags > 1:
        raise bad(f"{tags} <image> tags for 1 image")
    if tags and IMAGE_TAG not in turns[k]["value"]:
        raise bad(f"turn {k + 1} has no <image> tag but a later turn has: the reference "
                  "prepends one to the first turn and leaves the later tag as text")


def _check_tags(turns: list[dict], images: list[str], kind: str, bad) -> None:
    tags = sum(turn["value"].count(IMAGE_TAG) for turn in turns)
    if kind == "multi" and tags != len(images):  # reference asserts one </img> per image
        raise bad(f"{tags} <image> tags for {len(images)} images")
    if kind == "single" and tags > 1:
        raise bad(f"{tags} <image> tags for 1 image")
    if kind == "single" and tags == 1 and IMAGE_TAG not in turns[0]["value"]:
        # The reference prepends "<image>\n" to the first question when it has none: 2 tags.
        raise bad("the <image> tag of a single-image sample must be in the first question")
    if kind == "text" and tags:
        raise bad(f"{tags} <image> tags but no image")


def parse_record(obj: dict, source: str, line: int,
                 template: str | Template | None = None) -> Record:
    """Normalise one JSONL object by the rules of `template`'s preprocess (module docstring;
    None: the InternVL2 rules, spec training.md §8.3); every problem is a SampleError at
    file:line.

    A line that passes also passes `templates.encode_conversation` with that template, so
    `data check` and training agree; for `internvl2_5` the rules are stricter where the
    reference would mis-train (module docstring).
    """

    def bad(reason: str) -> SampleError:
        return SampleError(source, line, reason)

    if not isinstance(obj, dict):
        raise bad("line is not a JSON object")
    images, kind = _images(obj, bad)
    if template is not None and get_template(template).preprocess == "internvl2_5":
        turns = _turns_internvl2_5(obj, bad)
        _check_tags_internvl2_5(turns, images, kind, bad)
        return Record(str(obj.get("id", line)), images, kind, turns)
    turns = _turns(obj, bad)
    _check_tags(turns, images, kind, bad)
    return Record(str(obj.get("id", line)), images, kind, turns,
                  dropped_gpt_turn=leading_gpt_turn(obj["conversations"]))


def resolve_image_path(root: str, rel: str, source: str, line: int | None) -> str:
    """`root` joined with `rel`; absolute paths and paths escaping the root are errors."""
    if root.startswith("s3://"):
        return root + rel  # reference: string concatenation for object storage
    if os.path.isabs(rel) or PurePosixPath(rel).is_absolute():
        raise SampleError(source, line, f"image path {rel!r} is absolute; must be under the root")
    normalised = posixpath.normpath(rel.replace("\\", "/"))
    if normalised == ".." or normalised.startswith("../"):
        raise SampleError(source, line, f"image path {rel!r} escapes the root {root!r}")
    return os.path.join(root, rel)
