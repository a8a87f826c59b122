"""The dvc.yaml stages of your own domains (params.yaml `custom`; dvc.yaml `foreach`).

    data/prepared/<data>/custom/general/holdout.jsonl    general items held out (vqa test format)
    data/prepared/<data>/custom/general/general.json     meta: the general SFT data left to train
    data/prepared/<data>/custom/general/train/<name>.jsonl   each general file less the held out
    data/prepared/<data>/custom/<domain>/{train,test}.jsonl  `prep custom` of the declared table
    data/prepared/<data>/custom/<domain>/mix.json        general (general_ratio) + domain: trained
    runs/<tree>/<domain>/final                           the model after adaptation
    results/<tree>/custom/<model>/<domain|general>       <model> = base | <domain>
    results/<tree>/manifests/custom/<model>/*.manifest.json   run manifests, kept apart

Forgetting: the general held-out set is scored with the VQA scorer on the base model and on each
adapted model, which never saw those items (they are cut out of the general files it trains on).
It takes single-image, single-turn items with short answers (at most SHORT_ANSWER words), so
exact match means something, spread over the general datasets in a seeded order; the prompt gets
the short-answer suffix if it lacks it (the VQA convention).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from internvl_da.custom_domains import domain_dir, general_dir, get_domain
from internvl_da.data.tokens import IMAGE_TAG
from internvl_da.eval.rsvqa import PROMPT_SUFFIX
from internvl_da.fileio import write_json, write_jsonl, write_text_atomic
from internvl_da.params import data_roots
from internvl_da.prep.meta import INTERNVL_1_2_GENERAL, check_meta_files

GENERAL_FROM = "drivelm"  # every released meta lists the same nine general entries
SHORT_ANSWER = 3  # words


def _general_entries(params: dict) -> dict[str, dict]:
    """The nine general entries of the released meta, paths resolved under data/<data>."""
    from internvl_da.pipeline import _da_dir
    from internvl_da.prep.released import meta_file, resolved_meta

    raw = data_roots(params)[0]
    source = raw / _da_dir(params) / meta_file(GENERAL_FROM)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: the released meta (its general entries) is missing; "
                                "data: sample needs `dvc repro sample_data`")
    meta = resolved_meta(source, raw)
    return {name: entry for name, entry in meta.items() if name in INTERNVL_1_2_GENERAL}


def short_vqa(record: dict) -> tuple[str, str] | None:
    """(question, answer) of a single-image, single-turn line with a short answer, else None."""
    turns = record.get("conversations")
    if not isinstance(record.get("image"), str) or not isinstance(turns, list) \
            or len(turns) != 2 or [t.get("from") for t in turns if isinstance(t, dict)] \
            != ["human", "gpt"]:
        return None
    question, answer = turns[0].get("value"), turns[1].get("value")
    if not isinstance(question, str) or not isinstance(answer, str) \
            or question.count(IMAGE_TAG) != 1 or not question.startswith(IMAGE_TAG + "\n") \
            or not 0 < len(answer.split()) <= SHORT_ANSWER:
        return None
    question = question[len(IMAGE_TAG) + 1:]
    return (question if question.endswith(PROMPT_SUFFIX) else question + PROMPT_SUFFIX), answer


def _order(seed: int, name: str, line: int) -> bytes:
    return hashlib.sha256(f"{seed}:{name}:{line}".encode()).digest()


def pick_holdout(candidates: dict[str, list[int]], count: int, seed: int) -> set[tuple[str, int]]:
    """`count` (dataset, line) pairs: each dataset's candidates in seeded order, taken in turn."""
    queues = {name: sorted(lines, key=lambda n: _order(seed, name, n))
              for name, lines in candidates.items() if lines}
    chosen: set[tuple[str, int]] = set()
    while len(chosen) < count and any(queues.values()):
        for name in sorted(queues):
            if queues[name] and len(chosen) < count:
                chosen.add((name, queues[name].pop(0)))
    if len(chosen) < count:
        raise ValueError(f"the general data has {len(chosen)} single-image short-answer items; "
                         f"custom.general_holdout asks for {count}")
    return chosen


def general_holdout(params: dict) -> str:
    """holdout.jsonl, the general files less those items, and general.json pointing at them."""
    entries = _general_entries(params)
    out = general_dir(data_roots(params)[1])
    lines: dict[str, list[str]] = {}
    candidates: dict[str, list[int]] = {}
    for name, entry in entries.items():
        lines[name] = Path(entry["annotation"]).read_text(encoding="utf-8").splitlines()
        candidates[name] = [k for k, text in enumerate(lines[name], 1)
                            if text.strip() and short_vqa(json.loads(text)) is not None]
    held = pick_holdout(candidates, params["custom"]["general_holdout"], params["seed"])
    holdout, meta = [], {}
    for name, entry in entries.items():
        for k in sorted(n for d, n in held if d == name):
            record = json.loads(lines[name][k - 1])
            question, answer = short_vqa(record)
            holdout.append({"id": f"{name}:{k}", "image": str(Path(entry["root"]) /
                                                              record["image"]),
                            "conversations": [{"from": "human",
                                               "value": f"{IMAGE_TAG}\n{question}"},
                                              {"from": "gpt", "value": answer}], "task": "vqa"})
        kept = [text for k, text in enumerate(lines[name], 1) if (name, k) not in held]
        annotation = out / "train" / f"{name}.jsonl"
        write_text_atomic(annotation, "".join(text + "\n" for text in kept))
        meta[name] = {**entry, "annotation": annotation.as_posix(), "repeat_time": 1}
    write_jsonl(out / "holdout.jsonl", holdout)
    write_json(out / "general.json", meta, indent=2)
    return f"general held out: {len(holdout)} items in {out / 'holdout.jsonl'}"


def mix_counts(sizes: dict[str, int], total: int) -> dict[str, int]:
    """`total` general lines over the datasets in proportion to their sizes (largest remainder,
    ties by name), each at most its size; datasets given 0 lines are left out."""
    available = sum(sizes.values())
    total = min(total, available)
    if not total:
        return {}
    exact = {n: total * s / available for n, s in sizes.items()}
    counts = {n: int(v) for n, v in exact.items()}
    short = total - sum(counts.values())
    for name in sorted(exact, key=lambda n: (counts[n] - exact[n], n))[:short]:
        counts[name] += 1
    return {n: c for n, c in counts.items() if c}


def _repeat(count: int, size: int) -> float:
    """The repeat_time that keeps the first `count` of `size` lines: int(size * r) == count."""
    return 1 if count >= size else (count + 0.5) / size


def prepare(params: dict, name: str) -> str:
    """`prep custom` of the declared table, then mix.json: general lines (general_ratio x the
    domain's training lines, from the general data less the held-out items) + the domain."""
    from internvl_da.data.formats import JsonlIndex
    from internvl_da.prep.custom import prepare_custom

    entry = get_domain(params, name)
    out = domain_dir(data_roots(params)[1], name)
    summary = prepare_custom(entry["table"], entry["images"], entry["task"], out, name=name,
                             test_fraction=entry["test_fraction"], seed=params["seed"])
    general = json.loads((general_dir(data_roots(params)[1]) / "general.json").read_text(
        encoding="utf-8"))
    sizes = {n: len(JsonlIndex(e["annotation"])) for n, e in general.items()}
    counts = mix_counts(sizes, round(entry["general_ratio"] * summary.train_rows))
    mix = {n: {**general[n], "repeat_time": _repeat(c, sizes[n])} for n, c in counts.items()}
    mix.update(json.loads((out / "meta.json").read_text(encoding="utf-8")))
    check_meta_files(mix)
    write_json(out / "mix.json", mix, indent=2)
    return (f"{summary}\nmix {out / 'mix.json'}: {sum(counts.values())} general lines "
            f"({len(counts)} datasets) + {summary.train_rows} {name} lines")


def finetune(params: dict, name: str, checkpoint: str, live_dir: str | None = None) -> str:
    """runs/<tree>/<name>: the recipe of recipe.<size>.custom (+ the domain's keys) on mix.json,
    for params' model (family x size; params.tree is the path segment)."""
    from internvl_da.params import meta_path, model_name, tree
    from internvl_da.train.console import summary_line
    from internvl_da.train.finetune import finetune as run
    from internvl_da.train.recipe import recipe

    get_domain(params, name)
    cfg = recipe(model_name(params), name, params)
    output = f"runs/{tree(params)}/{name}"
    metrics = run(cfg, meta_path(params, name), output, checkpoint, live_dir=live_dir,
                  force=True)
    return summary_line(metrics, output, cfg.max_steps)


def evaluate(params: dict, name: str | None, results: str | Path,
             checkpoints: dict[str, str]) -> None:
    """results/<size>/custom/<model>/<name> (the domain's test set; name None: the general
    held-out set, folder `general`) for each named checkpoint."""
    from internvl_da.pipeline import evaluate_on

    prepared = data_roots(params)[1]
    if name is None:
        bench, annotation, images, folder = ("custom-vqa", general_dir(prepared) /
                                             "holdout.jsonl", Path("."), "general")
    else:
        entry = get_domain(params, name)
        bench, folder = f"custom-{entry['task']}", name
        annotation, images = domain_dir(prepared, name) / "test.jsonl", Path(entry["images"])
    for model, checkpoint in checkpoints.items():
        out = Path(results) / model / folder
        evaluate_on(params, bench, annotation, images, out, model, checkpoint)
        # the run manifest (git commit, versions) out of the folder the report's dep hashes
        manifest = out.with_name(out.name + ".manifest.json")
        if manifest.is_file():
            kept = Path(results).parent / "manifests" / "custom" / model / manifest.name
            kept.parent.mkdir(parents=True, exist_ok=True)
            manifest.replace(kept)
