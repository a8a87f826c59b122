"""Inference over a benchmark's records into predictions.jsonl, resumable.

Each finished sample is appended and flushed at once; a rerun skips the ids already in the file,
so an interrupted run continues where it stopped and ends with the same file. Benchmarks are a
plain dict: each name reads ITS OWN data (the reference dispatcher swapped RSVQA-LR and
RSVQA-HR-test2; see tests/eval/test_runner.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch.distributed as dist
from tqdm import tqdm

from internvl_da.eval import dior_rsvg, drivelm, gmai, mme_realworld, rsvqa
from internvl_da.eval.generate import GenerationSettings, answer_batch
from internvl_da.fileio import write_json, write_jsonl


@dataclass(frozen=True)
class Benchmark:
    annotation: str  # relative to --prepared (converted files) or --data-root (raw releases)
    image_root: str  # relative to --data-root
    max_new_tokens: int
    load: Callable[[Path, Path], list[dict]]
    score: Callable[[list[dict]], dict]
    raw_annotation: bool = False  # the release file is read as it is (no prep step)
    images_in_prepared: bool = False  # images live under --prepared (decoded or stitched)
    finalize: Callable[[dict], dict] | None = None  # post-processing of each prediction record
    write_outputs: Callable[[list[dict], Path], None] | None = None  # extra files (submission)


BENCHMARKS: dict[str, Benchmark] = {
    "drivelm": Benchmark("drivelm/drivelm_val.jsonl", "drivelm/stitch", 200, drivelm.load,
                         drivelm.score, images_in_prepared=True, finalize=drivelm.finalize,
                         write_outputs=drivelm.write_submission),
    "gmai": Benchmark("gmai/GMAI-MMBench_VAL.tsv", "gmai/images", 1024, gmai.load, gmai.score,
                      raw_annotation=True, images_in_prepared=True),
    "mme-realworld": Benchmark("mme_realworld/MME_RealWorld.json", "mme_realworld/data", 100,
                               mme_realworld.load, mme_realworld.score, raw_annotation=True),
    "dior-rsvg": Benchmark("remote/dior_rsvg_test.json", "dior_rsvg", 200, dior_rsvg.load,
                           dior_rsvg.score, write_outputs=dior_rsvg.write_drawings),
    "rsvqa-lr": Benchmark("remote/rsvqa_lr_test.json", "rsvqa/LR/Images_LR", 50, rsvqa.load,
                          rsvqa.score),
    "rsvqa-hr-test1": Benchmark("remote/rsvqa_hr_test1.json", "rsvqa/HR/Data", 50, rsvqa.load,
                                rsvqa.score),
    "rsvqa-hr-test2": Benchmark("remote/rsvqa_hr_test2.json", "rsvqa/HR/Data", 50, rsvqa.load,
                                rsvqa.score),
}


ALIASES = {"mme—realworld": "mme-realworld"}  # the reference dispatcher's em-dash spelling


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[ALIASES.get(name, name)]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}") from None


def distributed_rank() -> tuple[int, int]:
    """(rank, world size): (0, 1) alone; under torchrun, joins a gloo group for the barrier."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), world_size


def _done_ids(path: Path) -> set:
    if not path.is_file():
        return set()
    return {json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()}


def _predict(bench: Benchmark, items: list[dict], model, tokenizer,
             settings: GenerationSettings, path: Path, batch_size: int, desc: str) -> None:
    """Append predictions for the items not yet in `path`, flushing after every batch."""
    done = _done_ids(path)
    todo = [item for item in items if item["id"] not in done]
    with open(path, "a", encoding="utf-8") as handle, \
            tqdm(total=len(items), initial=len(items) - len(todo), desc=desc,
                 unit="sample") as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            replies = answer_batch(model, tokenizer, settings, [i["question"] for i in chunk],
                                   [i["image"] for i in chunk])
            for item, reply in zip(chunk, replies, strict=True):
                record = {**item, "prediction": reply}
                if bench.finalize is not None:
                    record = bench.finalize(record)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()  # a finished batch survives an interruption
            bar.update(len(chunk))


def _records(paths: list[Path], items: list[dict]) -> list[dict]:
    """Prediction records of `items`, in input order, from one or more files."""
    by_id = {}
    for path in paths:
        by_id.update({r["id"]: r for r in map(json.loads, path.read_text().splitlines())})
    return [by_id[i["id"]] for i in items]


def run_benchmark(name: str, model, tokenizer, settings: GenerationSettings, prepared: Path,
                  images: Path, out: Path, limit: int | None = None, batch_size: int = 1,
                  rank: int = 0, world_size: int = 1) -> dict:
    """Predict every item (skipping finished ones), then score the whole file.

    With several ranks, rank r predicts items[r::world_size] into its own file; rank 0 waits
    for all, merges them in input order into predictions.jsonl and scores (others return {}).
    The merged file equals a single-process run's.
    """
    bench = get_benchmark(name)
    annotation = (images if bench.raw_annotation else prepared) / bench.annotation
    image_root = (prepared if bench.images_in_prepared else images) / bench.image_root
    items = bench.load(annotation, image_root)[:limit]
    missing = [i["image"] for i in items if not os.path.isfile(i["image"])]
    if missing:
        raise FileNotFoundError(f"{len(missing)} images missing, e.g. {missing[:3]}")
    out.mkdir(parents=True, exist_ok=True)
    settings = GenerationSettings(**{**settings.__dict__, "max_new_tokens": bench.max_new_tokens})
    shards = [out / f"predictions.rank{r}.jsonl" for r in range(world_size)]
    mine = out / "predictions.jsonl" if world_size == 1 else shards[rank]
    _predict(bench, items[rank::world_size], model, tokenizer, settings, mine, batch_size,
             name if world_size == 1 else f"{name} rank {rank}")
    if world_size > 1:
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
        if rank != 0:
            return {}
        records = _records(shards, items)
        write_jsonl(out / "predictions.jsonl", records)
    else:
        records = _records([mine], items)
    metrics = bench.score(records)
    if bench.write_outputs is not None:
        bench.write_outputs(records, out)
    write_json(out / "metrics.json", metrics)
    _write_manifest(out, name, settings, annotation, image_root, limit, batch_size, world_size)
    return metrics


def _write_manifest(out: Path, name: str, settings: GenerationSettings, annotation: Path,
                    image_root: Path, limit: int | None, batch_size: int,
                    world_size: int) -> None:
    """`<out>.manifest.json`, beside the output folder: it names the git commit, so it stays
    out of the folder whose hash dvc.lock records."""
    import torch

    from internvl_da.manifest import run_manifest

    manifest = run_manifest(
        config={"benchmark": name, **settings.__dict__, "limit": limit,
                "batch_size": batch_size},
        inputs={"annotation": str(annotation), "images": str(image_root)},
        envelope={"torch_threads": torch.get_num_threads(),
                  "deterministic": torch.are_deterministic_algorithms_enabled()},
        extra={"world_size": world_size})
    write_json(out.with_name(out.name + ".manifest.json"), manifest)
