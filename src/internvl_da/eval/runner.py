"""Inference over a benchmark's records into predictions.jsonl, resumable.

Each finished sample is appended and flushed at once; a rerun skips the ids already in the file,
so an interrupted run continues where it stopped and ends with the same file. `evaluate_files`
runs a benchmark on a given annotation file and image folder (the released val files: the
paper's path); `run_benchmark` resolves the project's converted files first. Tiles, dynamic
tiling and max_new_tokens are per benchmark (eval.benchmarks: the reference's defaults, then
params.yaml `eval.<bench>`), never one global value: GMAI runs with 6 tiles, the others 12.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import torch.distributed as dist
from tqdm import tqdm

from internvl_da.eval.benchmarks import (  # noqa: F401 (re-exported: the registry's home)
    ALIASES,
    BENCHMARKS,
    Benchmark,
    benchmark_options,
    canonical,
    get_benchmark,
    released_inputs,
)
from internvl_da.eval.generate import GenerationSettings, answer_batch
from internvl_da.fileio import write_json, write_jsonl


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
                  rank: int = 0, world_size: int = 1, *, options: Mapping | None = None) -> dict:
    """`evaluate_files` on the project's converted files (`--prepared`) or raw releases
    (`--data-root`), resolved from the registry (source: raw; not the paper's files)."""
    bench = get_benchmark(name)
    annotation = (images if bench.raw_annotation else prepared) / bench.annotation
    image_root = (prepared if bench.images_in_prepared else images) / bench.image_root
    return evaluate_files(name, model, tokenizer, settings, annotation, image_root, out,
                          options=options, limit=limit, batch_size=batch_size, rank=rank,
                          world_size=world_size)


def evaluate_files(name: str, model, tokenizer, settings: GenerationSettings, annotation: Path,
                   image_root: Path, out: Path, *, options: Mapping | None = None,
                   limit: int | None = None, batch_size: int = 1, rank: int = 0,
                   world_size: int = 1) -> dict:
    """Predict every item of `annotation` (images under `image_root`), skipping finished ones,
    then score the whole file.

    `settings` gives the model's template and tile geometry; its max_num / dynamic /
    max_new_tokens are replaced by the benchmark's (`benchmark_options(name, options)`).
    With several ranks, rank r predicts items[r::world_size] into its own file; rank 0 waits
    for all, merges them in input order into predictions.jsonl and scores (others return {}).
    The merged file equals a single-process run's.
    """
    name = canonical(name)
    bench = BENCHMARKS[name]
    settings = replace(settings, **benchmark_options(name, options).__dict__)
    items = bench.load(Path(annotation), Path(image_root))[:limit]
    _check_unique_ids(items, annotation)
    missing = [i["image"] for i in items if not os.path.isfile(i["image"])]
    if missing:
        raise FileNotFoundError(f"{annotation}: {len(missing)} images missing, e.g. "
                                f"{missing[:3]} (image root {image_root})")
    out.mkdir(parents=True, exist_ok=True)
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


def _check_unique_ids(items: list[dict], annotation: Path) -> None:
    """Resuming and merging go by id: two items with one id would silently share a prediction."""
    seen: dict = {}
    for k, item in enumerate(items):
        if item["id"] in seen:
            raise ValueError(f"{annotation}: id {item['id']!r} appears twice (items "
                             f"{seen[item['id']] + 1} and {k + 1})")
        seen[item["id"]] = k


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
