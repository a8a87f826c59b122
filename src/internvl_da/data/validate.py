"""Validation of training data before training (spec training.md §8.4, §13.2).

Every line is checked and every problem is reported as `file:line: reason`: invalid JSON, role
order, empty answers, `<image>` tag counts, missing / corrupt / truncated images, paths that
escape the root and — given a tokenizer — samples whose image block would be cut by
`max_seq_length` (tail-text truncation is kept, as in the reference).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from internvl_da.data.errors import SampleError
from internvl_da.data.formats import JsonlIndex, load_meta, parse_record, resolve_image_path
from internvl_da.data.templates import encode_conversation
from internvl_da.data.tiling import count_tiles, load_image, tiles_per_image
from internvl_da.fileio import write_jsonl


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}" if self.line else \
            f"{self.file}: {self.reason}"


@dataclass(frozen=True)
class CheckOptions:
    tokenizer: object = None
    template: str | None = None
    max_seq_length: int | None = None
    max_num: int = 12
    tokens_per_tile: int = 256
    image_size: int = 448
    check_images: bool = True


def _image_sizes(record, root: str, source: str, line: int, check: bool):
    """(width, height) per image; SampleErrors for bad paths and unreadable files."""
    sizes, problems = [], []
    for rel in record.images:
        try:
            path = resolve_image_path(root, rel, source, line)
            if not check:
                sizes.append(None)
                continue
            image = load_image(path)
            sizes.append(image.size)
        except SampleError as exc:
            reason = exc.reason if exc.line else f"{exc.reason}: {exc.source}"
            problems.append(Problem(source, line, reason))
    return sizes, problems


def _length_problem(record, sizes, options: CheckOptions, max_num: int, source, line):
    budget = tiles_per_image(len(sizes), max_num) if record.kind == "multi" else max_num
    counts = [options.tokens_per_tile * count_tiles(w, h, max_num=budget,
                                                     image_size=options.image_size)
              for w, h in sizes]
    try:
        encode_conversation(options.tokenizer, options.template, record.conversations, counts,
                            max_length=options.max_seq_length, source=source, line=line)
    except SampleError as exc:
        return Problem(source, line, exc.reason)
    return None


def check_line(index: JsonlIndex, i: int, root: str, options: CheckOptions,
               max_num: int) -> list[Problem]:
    """All problems of record i (empty list when it is fine)."""
    source, line = index.path, index.line_number(i)
    try:
        record = parse_record(index[i], source, line)
    except SampleError as exc:
        return [Problem(source, line, exc.reason)]
    sizes, problems = _image_sizes(record, root, source, line, options.check_images)
    if not problems and options.tokenizer is not None and None not in sizes:
        length = _length_problem(record, sizes, options, max_num, source, line)
        problems += [length] if length else []
    return problems


def check_jsonl(path: str | Path, root: str | Path, *, max_num: int | None = None,
                options: CheckOptions | None = None) -> list[Problem]:
    """Check every line of one JSONL file whose images live under `root`."""
    options = options or CheckOptions()
    if options.tokenizer is not None and options.template is None:
        raise ValueError("a template is required to check lengths with a tokenizer")
    try:
        index = JsonlIndex(path)
    except SampleError as exc:
        return [Problem(exc.source, None, exc.reason)]
    problems: list[Problem] = []
    for i in tqdm(range(len(index)), desc=f"check {os.path.basename(str(path))}",
                  unit="line", leave=False):
        problems += check_line(index, i, str(root), options, max_num or options.max_num)
    return problems


def check_meta(meta_path: str | Path, options: CheckOptions | None = None) -> list[Problem]:
    """Check every dataset of a meta file with its own root and max_dynamic_patch."""
    try:
        meta = load_meta(meta_path)
    except SampleError as exc:
        return [Problem(exc.source, exc.line, exc.reason)]
    problems: list[Problem] = []
    for entry in meta.values():
        problems += check_jsonl(entry.annotation, entry.root, max_num=entry.max_dynamic_patch,
                                options=options)
    return problems


def write_rejects(problems: list[Problem], path: str | Path) -> None:
    """One JSON line per problem: {"file", "line", "reason"} (written atomically)."""
    write_jsonl(path, ({"file": p.file, "line": p.line, "reason": p.reason} for p in problems))


def summarise(problems: list[Problem]) -> str:
    """'N problems in M lines of K files' (or 'no problems')."""
    if not problems:
        return "no problems"
    lines = {(p.file, p.line) for p in problems}
    per_file = Counter(p.file for p in problems)
    return f"{len(problems)} problems in {len(lines)} lines of {len(per_file)} files"
