"""Validation of training data before training (spec training.md §8.4, §13.2).

Every line is checked and every problem is reported as `file:line: reason`: invalid JSON, role
order, empty answers, `<image>` tag counts, missing / corrupt / truncated images, paths that
escape the root and — given a tokenizer — samples whose image block would be cut by
`max_seq_length`. A sample that is too long only in its tail text is kept, as the reference
keeps it (§13.2); such samples are counted per dataset, not rejected. So are samples whose
conversation starts with a `gpt` turn under an InternVL2 template: the reference drops that
turn (§8.3) and trains on the rest, and so does internvl-da; the count shows how much text the
drop removes. Records are parsed by the rules of the template given (`formats.parse_record`:
InternVL2's, or InternVL3.5's `internvl2_5` with its system turn and trained leading gpt turn,
spec internvl35.md §5), even without a tokenizer, so `data check` and training agree.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from internvl_da.data.errors import SampleError
from internvl_da.data.formats import (
    JsonlIndex,
    MetaEntry,
    Record,
    load_meta,
    parse_record,
    resolve_image_path,
    select_lines,
)
from internvl_da.data.templates import encode_conversation
from internvl_da.data.tiling import count_tiles, load_image, tiles_per_image
from internvl_da.fileio import write_jsonl


@dataclass(frozen=True)
class Problem:
    """One reason to reject one line (line None: the whole file)."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class CheckOptions:
    """What to check. The template sets the record rules (None: InternVL2's); with a
    tokenizer (and template) every sample is also encoded, and with max_seq_length too its
    length is checked."""

    tokenizer: object = None
    template: str | None = None
    max_seq_length: int | None = None
    max_num: int = 12  # tiles per image unless the meta entry sets max_dynamic_patch
    tokens_per_tile: int = 256
    image_size: int = 448
    check_images: bool = True
    decode_images: bool = True  # False: open headers only (fast; train's check before step 1)


@dataclass
class DatasetReport:
    """Counts and problems of one annotation file (one meta entry)."""

    name: str
    file: str
    checked: int = 0
    tail_truncated: int = 0  # kept: only trailing text exceeds max_seq_length
    leading_gpt: int = 0  # kept: a leading gpt turn is dropped, as the reference drops it
    problems: list[Problem] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({p.line for p in self.problems})

    def __str__(self) -> str:
        text = f"{self.name} ({self.file}): {self.checked} lines checked, {self.rejected} rejected"
        return text + _kept(self.tail_truncated, self.leading_gpt)


def _kept(tail_truncated: int, leading_gpt: int) -> str:
    """The counted, kept cases (empty when there are none)."""
    return (f", {tail_truncated} kept with tail text truncated" if tail_truncated else "") + \
        (f", {leading_gpt} kept with a leading gpt turn dropped" if leading_gpt else "")


def _options(options: CheckOptions | None, settings: dict) -> CheckOptions:
    known = {f.name for f in fields(CheckOptions)}
    if unknown := set(settings) - known:
        raise TypeError(f"unknown check settings: {sorted(unknown)}")
    options = replace(options or CheckOptions(), **settings)
    if options.tokenizer is not None and not options.template:
        raise ValueError("a template is required to check lengths with a tokenizer (--template)")
    return options


def image_header_size(path: str) -> tuple[int, int]:
    """(width, height) from the image header, without decoding; missing or unreadable files
    (not an image, corrupt header) are SampleErrors naming the file. A truncated body passes:
    only a full decode (`load_image`) finds that."""
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        reason = "image file not found"
    except (OSError, SyntaxError, ValueError) as exc:
        reason = f"not a readable image: {exc}"
    raise SampleError(path, None, reason)


def _image_sizes(record: Record, root: str, source: str, line: int, options: CheckOptions):
    """((width, height) per image, or None when images are not opened; problems)."""
    sizes, problems = [], []
    for rel in record.images:
        try:
            path = resolve_image_path(root, rel, source, line)
            if not options.check_images:
                sizes.append(None)
            elif options.decode_images:
                sizes.append(load_image(path).size)
            else:
                sizes.append(image_header_size(path))
        except SampleError as exc:  # load_image names the image file: keep it in the reason
            reason = exc.reason if exc.line else f"{exc.reason}: {exc.source}"
            problems.append(Problem(source, line, reason))
    return sizes, problems


def _length_check(record: Record, sizes, options: CheckOptions, max_num: int, source: str,
                  line: int) -> tuple[Problem | None, bool]:
    """(problem if max_seq_length cuts an image block, whether tail text gets truncated).

    Tiles per image as `dataset.SupervisedDataset` makes them: `count_tiles` on the image size,
    the multi-image budget max(1, max_num // n) (reference `multi_modal_multi_image_get_item`).
    """
    budget = tiles_per_image(len(sizes), max_num) if record.kind == "multi" else max_num
    counts = [options.tokens_per_tile * count_tiles(w, h, max_num=budget,
                                                     image_size=options.image_size)
              for w, h in sizes]
    try:
        ids, _ = encode_conversation(options.tokenizer, options.template, record.conversations,
                                     counts, source=source, line=line)
        if options.max_seq_length is None or len(ids) <= options.max_seq_length:
            return None, False
        encode_conversation(options.tokenizer, options.template, record.conversations, counts,
                            max_length=options.max_seq_length, source=source, line=line)
    except SampleError as exc:  # TruncationError: the reference's </img> assertion
        return Problem(source, line, exc.reason), False
    return None, True


def _check_line(index: JsonlIndex, i: int, root: str, options: CheckOptions, max_num: int,
                report: DatasetReport) -> None:
    source, line = index.path, index.line_number(i)
    report.checked += 1
    try:
        record = parse_record(index[i], source, line, options.template)
    except SampleError as exc:
        report.problems.append(Problem(source, line, exc.reason))
        return
    sizes, problems = _image_sizes(record, root, source, line, options)
    report.problems += problems
    report.leading_gpt += int(record.dropped_gpt_turn and not problems)
    if problems or options.tokenizer is None or None in sizes:
        return
    problem, truncated = _length_check(record, sizes, options, max_num, source, line)
    report.problems += [problem] if problem else []
    report.tail_truncated += truncated


def _check_file(name: str, path: str | Path, root: str | Path, options: CheckOptions,
                max_num: int | None = None, entry: MetaEntry | None = None) -> DatasetReport:
    report = DatasetReport(name, str(path))
    try:
        index = JsonlIndex(path)
    except SampleError as exc:
        report.problems.append(Problem(exc.source, None, exc.reason))
        return report
    if entry is not None and not select_lines(len(index), entry.repeat_time):
        # training would stop on "shard 0 of 1 has no training sample", naming no dataset
        report.problems.append(Problem(str(path), None, (
            f"dataset {name!r}: repeat_time {entry.repeat_time} keeps 0 of its {len(index)} "
            "lines (the reference keeps the first int(N * repeat_time))")))
    for i in tqdm(range(len(index)), desc=f"check {name}", unit="line", leave=False):
        _check_line(index, i, str(root), options, max_num or options.max_num, report)
    return report


def check_jsonl(path: str | Path, root: str | Path, *, options: CheckOptions | None = None,
                **settings) -> list[Problem]:
    """Every problem of one JSONL file whose images live under `root`.

    `settings` are CheckOptions fields (tokenizer, template, max_seq_length, max_num,
    tokens_per_tile, image_size, check_images), overriding `options`.
    """
    return _check_file(Path(path).stem, path, root, _options(options, settings)).problems


def check_meta_datasets(meta_path: str | Path, options: CheckOptions | None = None,
                        **settings) -> list[DatasetReport]:
    """One report per meta entry (its own root and max_dynamic_patch), in meta order.

    Every line is checked whatever the entry's repeat_time (spec §8.4: check every line).
    """
    options = _options(options, settings)
    try:
        meta = load_meta(meta_path)
    except SampleError as exc:
        return [DatasetReport(Path(meta_path).stem, str(meta_path),
                              problems=[Problem(exc.source, exc.line, exc.reason)])]
    return [_check_file(e.name, e.annotation, e.root, options, e.max_dynamic_patch, e)
            for e in meta.values()]


def check_meta(meta_path: str | Path, options: CheckOptions | None = None,
               **settings) -> list[Problem]:
    """Every problem of every dataset of a meta file."""
    return [p for r in check_meta_datasets(meta_path, options, **settings) for p in r.problems]


# Where meta files sit relative to a folder: the released layout (`<dataset>/train_meta/`) and
# the pipeline's prepared metas (`<source>/meta/`).
META_GLOBS = ("train_meta/*.json", "*/train_meta/*.json", "meta/*.json", "*/meta/*.json")


def meta_root_for(jsonl: str | Path, levels: int = 4) -> tuple[str, Path, str] | None:
    """(image root, meta file, dataset name) of the first meta that names `jsonl` as an
    annotation, searched in the folders above it (nearest first); None when none does.

    The released metas name their files relative to the data folder (spec training.md §8.1,
    the reference resolves them against the working directory), so a relative annotation is
    tried against the folder the meta was found under and against the working directory.
    """
    target = Path(jsonl).resolve()
    for folder in list(target.parents)[:levels]:
        for pattern in META_GLOBS:
            for meta in sorted(folder.glob(pattern)):
                if found := _entry_naming(meta, target, (folder, Path.cwd())):
                    return found
    return None


def _entry_naming(meta: Path, target: Path, bases) -> tuple[str, Path, str] | None:
    try:
        raw = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    for name, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("annotation"), str) \
                or not isinstance(entry.get("root"), str):
            continue
        for base in bases:
            if (base / entry["annotation"]).resolve() == target:
                root = entry["root"]
                return (root if root.startswith("s3://") else str(base / root)), meta, name
    return None


def check_path(path: str | Path, root: str | Path | None = None, *,
               tokenizer_dir: str | Path | None = None, rejects: str | Path | None = None,
               **settings) -> list[DatasetReport]:
    """`internvl-da data check`: a `.json` meta file or one `.jsonl` (root: its directory).

    Loads the tokenizer from `tokenizer_dir` (no remote code) and writes `rejects` if given.
    """
    path = Path(path)
    if tokenizer_dir is not None:
        if not settings.get("template"):
            raise ValueError("--template is required with --tokenizer")
        from internvl_da.model.load import load_tokenizer  # slow import, only for lengths

        settings["tokenizer"] = load_tokenizer(tokenizer_dir)
    if path.suffix == ".json":
        if root is not None:
            raise ValueError("--root applies to a .jsonl only; a meta file names its roots")
        reports = check_meta_datasets(path, **settings)
    elif path.name.endswith("jsonl"):  # the reference asserts annotation.endswith('jsonl')
        options = _options(None, settings)
        reports = [_check_file(path.stem, path, path.parent if root is None else root, options)]
    else:
        raise ValueError(f"{path}: expected a meta .json or an annotation .jsonl")
    if rejects is not None:
        write_rejects([p for r in reports for p in r.problems], rejects)
    return reports


def write_rejects(problems: list[Problem], path: str | Path) -> None:
    """One JSON line per problem: {"file", "line", "reason"} (written atomically)."""
    write_jsonl(path, ({"file": p.file, "line": p.line, "reason": p.reason} for p in problems))


def summarise(problems: list[Problem]) -> str:
    """'N problems in M lines of K files' (or 'no problems')."""
    if not problems:
        return "no problems"
    lines = {(p.file, p.line) for p in problems}
    files = Counter(p.file for p in problems)
    return f"{len(problems)} problems in {len(lines)} lines of {len(files)} files"


def print_reports(reports: list[DatasetReport]) -> int:
    """Print every problem (file:line: reason), then the summary; the exit code of
    `data check` and the validate stage: 1 if any line was rejected, else 0."""
    for report in reports:
        for problem in report.problems:
            print(problem)
    for line in summary_lines(reports):
        print(line)
    return 1 if any(r.problems for r in reports) else 0


def summary_lines(reports: list[DatasetReport]) -> list[str]:
    """Checked / rejected / tail-truncated counts per dataset, then the total."""
    checked = sum(r.checked for r in reports)
    rejected = sum(r.rejected for r in reports)
    problems = [p for r in reports for p in r.problems]
    kept = _kept(sum(r.tail_truncated for r in reports), sum(r.leading_gpt for r in reports))
    total = f"total: {checked} lines checked, {rejected} rejected{kept} ({summarise(problems)})"
    return [str(r) for r in reports] + [total]

