"""Inference over a benchmark's records into predictions.jsonl, resumable.

Each finished batch is appended complete or not at all (fileio.LineAppender: written, fsynced,
cut back on a full disk); a rerun skips the ids already in the file, so an interrupted run
continues where it stopped and ends with the same file. It resumes only into a folder whose
identity.json matches this run (checkpoint weights, benchmark, input hash, settings: eval.resume),
else refuses unless `force`. `evaluate_files` runs a benchmark on a given annotation file and
image folder (the released val files: the paper's path); `run_benchmark` resolves the project's
converted files first. Tiles, dynamic tiling and max_new_tokens are per benchmark
(eval.benchmarks: the reference's defaults, then params.yaml `eval.<bench>`), never one global
value: GMAI runs with 6 tiles, the others 12. For InternVL3.5's template, metrics.json also
records the share of thinking predictions and the SPLIT_THINK score (eval.thinking).
"""

from __future__ import annotations

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
from internvl_da.eval.resume import claim_output, resume_file, run_identity
from internvl_da.eval.thinking import counts_thinking, thinking_metrics
from internvl_da.fileio import LineAppender, read_jsonl_objects, write_json, write_jsonl


def distributed_rank() -> tuple[int, int]:
    """(rank, world size): (0, 1) alone; under torchrun, joins a gloo group for the barrier."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), world_size


def _done_ids(path: Path) -> set:
    """Ids already predicted in `path` (a trailing partial line is cut first)."""
    done = set()
    for number, record in enumerate(resume_file(path), 1):
        if "id" not in record:
            raise ValueError(f"{path}: record {number} has no 'id'")
        done.add(record["id"])
    return done


def _predict(bench: Benchmark, items: list[dict], model, tokenizer,
             settings: GenerationSettings, path: Path, batch_size: int, desc: str) -> None:
    """Append predictions for the items not yet in `path`, one complete append per batch."""
    done = _done_ids(path)
    todo = [item for item in items if item["id"] not in done]
    with LineAppender(path) as appender, \
            tqdm(total=len(items), initial=len(items) - len(todo), desc=desc,
                 unit="sample") as bar:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            replies = answer_batch(model, tokenizer, settings, [i["question"] for i in chunk],
                                   [i["image"] for i in chunk])
            records = [{**item, "prediction": reply}
                       for item, reply in zip(chunk, replies, strict=True)]
            if bench.finalize is not None:
                records = [bench.finalize(r) for r in records]
            appender.append(records)  # a finished batch survives a kill or a full disk
            bar.update(len(chunk))


def _records(paths: list[Path], items: list[dict]) -> list[dict]:
    """Prediction records of `items`, in input order, from one or more files."""
    by_id = {}
    for path in paths:
        by_id.update({r["id"]: r for _, r in read_jsonl_objects(path)})
    missing = [i["id"] for i in items if i["id"] not in by_id]
    if missing:
        raise ValueError(f"{', '.join(map(str, paths))}: no prediction for {len(missing)} "
                         f"item(s), e.g. ids {missing[:3]}")
    return [by_id[i["id"]] for i in items]


def check_run_arguments(limit: int | None, batch_size: int) -> None:
    """--limit and --batch-size (or params eval.limit/batch_size) before anything is written:
    `[:-1]` dropped the last sample and batch 0 crashed after creating predictions.jsonl."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise ValueError(f"limit must be a whole number >= 1 (or none for all), got {limit!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch size must be a whole number >= 1, got {batch_size!r}")


def model_identity(model, checkpoint: str | Path | None) -> dict:
    """The model's identity: the sha256 of its weights as loaded (one rule for a checkpoint
    folder, the in-process tiny model and the pipeline's stages, so their runs compare), and
    the folder it came from, recorded for the reader."""
    from internvl_da.model.load import weights_fingerprint

    return {"path": None if checkpoint is None else str(checkpoint),
            "weights_sha256": weights_fingerprint(model)}


def run_benchmark(name: str, model, tokenizer, settings: GenerationSettings, prepared: Path,
                  images: Path, out: Path, limit: int | None = None, batch_size: int = 1,
                  rank: int = 0, world_size: int = 1, *, options: Mapping | None = None,
                  checkpoint: str | Path | None = None, force: bool = False) -> dict:
    """`evaluate_files` on the project's converted files (`--prepared`) or raw releases
    (`--data-root`), resolved from the registry (source: raw; not the paper's files)."""
    bench = get_benchmark(name)
    annotation = (images if bench.raw_annotation else prepared) / bench.annotation
    image_root = (prepared if bench.images_in_prepared else images) / bench.image_root
    return evaluate_files(name, model, tokenizer, settings, annotation, image_root, out,
                          options=options, limit=limit, batch_size=batch_size, rank=rank,
                          world_size=world_size, checkpoint=checkpoint, force=force)


def evaluate_files(name: str, model, tokenizer, settings: GenerationSettings, annotation: Path,
                   image_root: Path, out: Path, *, options: Mapping | None = None,
                   limit: int | None = None, batch_size: int = 1, rank: int = 0,
                   world_size: int = 1, checkpoint: str | Path | None = None,
                   force: bool = False) -> dict:
    """Predict every item of `annotation` (images under `image_root`), skipping finished ones,
    then score the whole file.

    `checkpoint` (the folder the model came from) is recorded beside the weights' sha256
    (`model_identity`). `out` is resumed only if its identity.json matches this run; `force`
    discards its predictions instead (eval.resume.claim_output).

    `settings` gives the model's template and tile geometry; its max_num / dynamic /
    max_new_tokens are replaced by the benchmark's (`benchmark_options(name, options)`).
    With several ranks, rank r predicts items[r::world_size] into its own file; rank 0 waits
    for all, merges them in input order into predictions.jsonl and scores (others return {}).
    The merged file equals a single-process run's.
    """
    name = canonical(name)
    bench = BENCHMARKS[name]
    check_run_arguments(limit, batch_size)
    settings = replace(settings, **benchmark_options(name, options).__dict__)
    items = bench.load(Path(annotation), Path(image_root))[:limit]
    if not items:
        raise ValueError(f"{annotation}: no records to evaluate")
    _check_unique_ids(items, annotation)
    missing = [i["image"] for i in items if not os.path.isfile(i["image"])]
    if missing:
        raise FileNotFoundError(f"{annotation}: {len(missing)} images missing, e.g. "
                                f"{missing[:3]} (image root {image_root})")
    shards = [out / f"predictions.rank{r}.jsonl" for r in range(world_size)]
    mine = out / "predictions.jsonl" if world_size == 1 else shards[rank]
    dtype = str(next(model.parameters()).dtype)
    identity = run_identity(name, model_identity(model, checkpoint), Path(annotation),
                            Path(image_root), {**settings.__dict__, "dtype": dtype})
    own = [mine]  # what --force discards: each rank its shard, rank 0 the merged outputs
    if rank == 0:
        own += [out / "metrics.json"] + ([out / "predictions.jsonl"] if world_size > 1 else [])
    claim_output(out, identity, own, force=force)
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
    if counts_thinking(settings.template):  # InternVL3.5 only (eval.thinking, spec §9.2)
        metrics.update(thinking_metrics(records, bench.score, bench.finalize))
    if bench.write_outputs is not None:
        bench.write_outputs(records, out)
    write_json(out / "metrics.json", metrics)
    _write_manifest(out, identity, limit, batch_size, world_size)
    return metrics


def _check_unique_ids(items: list[dict], annotation: Path) -> None:
    """Resuming and merging go by id: two items with one id would silently share a prediction."""
    seen: dict = {}
    for k, item in enumerate(items):
        if item["id"] in seen:
            raise ValueError(f"{annotation}: id {item['id']!r} appears twice (items "
                             f"{seen[item['id']] + 1} and {k + 1})")
        seen[item["id"]] = k


def _write_manifest(out: Path, identity: Mapping, limit: int | None, batch_size: int,
                    world_size: int) -> None:
    """`<out>.manifest.json`, beside the output folder: it names the git commit, so it stays
    out of the folder whose hash dvc.lock records. It names the checkpoint (issue 11 item 1)."""
    import torch

    from internvl_da.manifest import run_manifest

    manifest = run_manifest(
        config={"benchmark": identity["benchmark"], **identity["settings"], "limit": limit,
                "batch_size": batch_size},
        inputs={"checkpoint": identity["checkpoint"],
                "annotation": identity["annotation"]["path"],
                "annotation_sha256": identity["annotation"]["sha256"],
                "images": identity["images"]},
        envelope={"torch_threads": torch.get_num_threads(),
                  "deterministic": torch.are_deterministic_algorithms_enabled()},
        extra={"world_size": world_size})
    write_json(out.with_name(out.name + ".manifest.json"), manifest)
