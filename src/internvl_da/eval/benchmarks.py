"""The benchmark registry: files, per-benchmark inference settings, loaders and scorers.

Each name reads ITS OWN data (the reference dispatcher swapped RSVQA-LR and RSVQA-HR-test2,
evaluation.md §2.5). Two inputs per benchmark:
- `RELEASED`: the files the paper evaluated on, as released (InternVL-Domain-Adaptation-Data
  `val/` and `images/`, MME-RealWorld's JSON, GMAI-MMBench's VAL TSV); paths as the reference
  scripts' `ds_collections` name them (evaluation.md §3.1, §4.1, §5.1, §6.1, §7.2).
- `Benchmark.annotation` / `image_root`: the project's own conversions of the raw releases
  (`prep drivelm|rsvqa|dior`), not the paper's files; same record formats.
Inference settings (`EvalOptions`) default to what the reference runs each benchmark with
(§1, §2.3, §3.2, §4.2, §5.3, §6.1, §7.4) and are overridden per benchmark from params.yaml
`eval.<bench>`.
Your own domains (`prep custom`) are evaluated by `custom-<task>` (vqa, caption, mcq,
grounding): generic loaders and scorers (eval/custom*.py) with no paper files of their own; the
pipeline gives each declared domain's test.jsonl and image folder (pipeline_custom.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from internvl_da.eval import (
    custom,
    custom_caption,
    custom_grounding,
    custom_mcq,
    custom_vqa,
    dior_rsvg,
    drivelm,
    gmai,
    mme_realworld,
    rsvqa,
)


@dataclass(frozen=True)
class EvalOptions:
    """Per-benchmark inference settings (params.yaml `eval.<bench>`)."""
    max_num: int  # tiles per image with dynamic tiling (reference `--max-num`)
    dynamic: bool  # dynamic tiling (reference `--dynamic`); off: one 448x448 tile
    max_new_tokens: int


@dataclass(frozen=True)
class Benchmark:
    annotation: str  # the project's conversion: relative to --prepared (or --data-root if raw)
    image_root: str  # relative to --data-root (or --prepared)
    defaults: EvalOptions  # the reference's settings for this benchmark
    load: Callable[[Path, Path], list[dict]]
    score: Callable[[list[dict]], dict]
    raw_annotation: bool = False  # the release file is read as it is (no prep step)
    images_in_prepared: bool = False  # images live under --prepared (decoded or stitched)
    finalize: Callable[[dict], dict] | None = None  # post-processing of each prediction record
    write_outputs: Callable[[list[dict], Path], None] | None = None  # extra files (submission)

    @property
    def max_new_tokens(self) -> int:
        return self.defaults.max_new_tokens


@dataclass(frozen=True)
class ReleasedFiles:
    """Where the paper's files lie, relative to a params.yaml `datasets.<dataset>` folder."""
    dataset: str  # params.yaml `datasets:` key
    annotation: str
    images: str | None  # None: images are inside the annotation (GMAI's base64 column)


# Reference defaults: DriveLM's dispatcher hard-codes --dynamic --max-num 12; the docs run
# MME-RW, RSVQA and DIOR with --dynamic --max-num 12; VLMEvalKit runs GMAI with max_num 6.
_TWELVE = {"max_num": 12, "dynamic": True}
BENCHMARKS: dict[str, Benchmark] = {
    "drivelm": Benchmark("drivelm/drivelm_val.jsonl", "drivelm/stitch",
                         EvalOptions(**_TWELVE, max_new_tokens=200), drivelm.load,
                         drivelm.score, images_in_prepared=True, finalize=drivelm.finalize,
                         write_outputs=drivelm.write_submission),
    "gmai": Benchmark("gmai/GMAI-MMBench_VAL.tsv", "gmai/images",
                      EvalOptions(max_num=6, dynamic=True, max_new_tokens=1024), gmai.load,
                      gmai.score, raw_annotation=True, images_in_prepared=True),
    "mme-realworld": Benchmark("mme_realworld/MME_RealWorld.json", "mme_realworld/data",
                               EvalOptions(**_TWELVE, max_new_tokens=100), mme_realworld.load,
                               mme_realworld.score, raw_annotation=True),
    "dior-rsvg": Benchmark("remote/dior_rsvg_test.json", "dior_rsvg",
                           EvalOptions(**_TWELVE, max_new_tokens=200), dior_rsvg.load,
                           dior_rsvg.score, write_outputs=dior_rsvg.write_drawings),
    "rsvqa-lr": Benchmark("remote/rsvqa_lr_test.json", "rsvqa/LR/Images_LR",
                          EvalOptions(**_TWELVE, max_new_tokens=50), rsvqa.load, rsvqa.score),
    "rsvqa-hr-test1": Benchmark("remote/rsvqa_hr_test1.json", "rsvqa/HR/Data",
                                EvalOptions(**_TWELVE, max_new_tokens=50), rsvqa.load,
                                rsvqa.score),
    "rsvqa-hr-test2": Benchmark("remote/rsvqa_hr_test2.json", "rsvqa/HR/Data",
                                EvalOptions(**_TWELVE, max_new_tokens=50), rsvqa.load,
                                rsvqa.score),
    # Your own domains: inputs given per domain (annotation/image_root unused). Not the paper's:
    # short answers get RSVQA's budget, MCQ GMAI's 6 tiles but 20 tokens (the prompt asks for a
    # letter; GMAI's 1024 is VLMEvalKit's generic budget), boxes DIOR-RSVG's 200, captions 100.
    "custom-vqa": Benchmark("", "", EvalOptions(**_TWELVE, max_new_tokens=50),
                            custom.loader("vqa"), custom_vqa.score),
    "custom-caption": Benchmark("", "", EvalOptions(**_TWELVE, max_new_tokens=100),
                                custom.loader("caption"), custom_caption.score),
    "custom-mcq": Benchmark("", "", EvalOptions(max_num=6, dynamic=True, max_new_tokens=20),
                            custom.loader("mcq"), custom_mcq.score),
    "custom-grounding": Benchmark("", "", EvalOptions(**_TWELVE, max_new_tokens=200),
                                  custom.loader("grounding"), custom_grounding.score),
}
CUSTOM = frozenset(custom.BENCHMARKS.values())  # benchmarks whose inputs come from `prep custom`

_DA = "domain_adaptation"
RELEASED: dict[str, ReleasedFiles] = {
    "drivelm": ReleasedFiles(_DA, "val/drivelm_val.jsonl", "images/drivelm/stitch"),
    "rsvqa-lr": ReleasedFiles(_DA, "val/rsvqa_l_test_instruct.json", "images/RSVQA_L/Images_LR"),
    "rsvqa-hr-test1": ReleasedFiles(_DA, "val/rsvqa_h_test_1_instruct.json",
                                    "images/RSVQA-H/Data"),
    "rsvqa-hr-test2": ReleasedFiles(_DA, "val/rsvqa_h_test_2_instruct.json",
                                    "images/RSVQA-H/Data"),
    "dior-rsvg": ReleasedFiles(_DA, "val/dior_rsvg_test.json", "images"),
    "mme-realworld": ReleasedFiles("mme_realworld", "MME_RealWorld.json", "data"),
    "gmai": ReleasedFiles("gmai", "GMAI-MMBench_VAL.tsv", None),
}

DEFAULT_OPTIONS: dict[str, EvalOptions] = {name: b.defaults for name, b in BENCHMARKS.items()}
ALIASES = {"mme—realworld": "mme-realworld"}  # the reference dispatcher's em-dash spelling


def canonical(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}")
    return name


def get_benchmark(name: str) -> Benchmark:
    return BENCHMARKS[canonical(name)]


def benchmark_options(name: str, overrides: Mapping | None = None) -> EvalOptions:
    """The benchmark's reference settings with `overrides` (params.yaml `eval.<bench>`) applied;
    an unknown key or a wrong type is an error naming `eval.<bench>.<key>`."""
    name = canonical(name)
    kinds = {f.name: f.type for f in fields(EvalOptions)}
    given = dict(overrides or {})
    for key, value in given.items():
        where = f"eval.{name}.{key}"
        if key not in kinds:
            raise ValueError(f"{where}: unknown setting; choose from {sorted(kinds)}")
        if kinds[key] == "bool" and not isinstance(value, bool):
            raise ValueError(f"{where}: must be true or false, found {value!r}")
        if kinds[key] == "int" and (isinstance(value, bool) or not isinstance(value, int)
                                    or value < 1):
            raise ValueError(f"{where}: must be an integer >= 1, found {value!r}")
    return replace(BENCHMARKS[name].defaults, **given)


def released_inputs(name: str, raw_root: Path, local_dirs: Mapping[str, str],
                    decoded: Path) -> tuple[Path, Path]:
    """(annotation, image root) of the released files of `name` under `raw_root` (data/<data>),
    each dataset in its params.yaml `local_dir`; GMAI's images are decoded to `decoded`."""
    if canonical(name) in CUSTOM:
        raise ValueError(f"{name}: a custom domain's benchmark has no released files; give its "
                         "test.jsonl and image folder (--annotation/--images, `prep custom`)")
    files = RELEASED[canonical(name)]
    if files.dataset not in local_dirs:
        raise ValueError(f"{name}: no folder for dataset {files.dataset!r} "
                         f"(params.yaml datasets.{files.dataset}.local_dir)")
    base = Path(raw_root) / local_dirs[files.dataset]
    images = decoded if files.images is None else base / files.images
    return base / files.annotation, images
