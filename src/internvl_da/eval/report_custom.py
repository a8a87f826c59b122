"""results.md's "Your own domains" section: each adapted model's domain score and the general
held-out score, before and after adaptation, so users see what the domain cost.

Layout read (pipeline_custom.py): `DIR/custom/<model>/<folder>/metrics.json`, <model> = base or
a custom domain, <folder> = a domain's test set or `general` (the general SFT items held out of
every custom fine-tune, scored with the VQA scorer). One row per adapted domain; the task comes
from its metrics (`task`). Missing results are `n/a` with the reason listed under the table.
"""

from __future__ import annotations

from pathlib import Path

from internvl_da.fileio import read_json_object

GENERAL = "general"
BASE = "base"
# task -> (metric key, scale to print, decimals, what it is)
HEADLINE = {"vqa": ("accuracy", 100, 2, "exact match after normalisation, %"),
            "mcq": ("accuracy", 100, 2, "GMAI's letter matching, %"),
            "grounding": ("acc@0.5", 100, 2, "boxes with IoU >= 0.5, %"),
            "caption": ("CIDEr", 1, 3, "CIDEr-D (pycocoevalcap)")}
GENERAL_METRIC = ("accuracy", 100, 2)


def load_custom(results: Path) -> dict[tuple[str, str], dict]:
    """{(model, folder): metrics} under results/custom (empty when there is none)."""
    root = Path(results) / "custom"
    return {(p.parent.parent.name, p.parent.name): read_json_object(p)
            for p in sorted(root.glob("*/*/metrics.json"))}


def _cell(metrics: dict | None, key: str, scale: float, digits: int) -> str:
    value = None if metrics is None else metrics.get(key)
    return "n/a" if not isinstance(value, int | float) else f"{value * scale:.{digits}f}"


def _delta(before: str, after: str) -> str:
    if "n/a" in (before, after):
        return "n/a"
    return f"{float(after) - float(before):+.2f}"


def render_custom(found: dict[tuple[str, str], dict]) -> str:
    """The markdown section ('' when no custom domain was evaluated)."""
    domains = sorted({m for m, _ in found if m != BASE} | {f for m, f in found
                                                           if m == BASE and f != GENERAL})
    if not domains:
        return ""
    header = ["| domain | task | metric | before (base) | after | Δ | general before | "
              "general after | general Δ |", "|---" * 9 + "|"]
    rows, missing = [], []
    general_before = _cell(found.get((BASE, GENERAL)), *GENERAL_METRIC)
    for name in domains:
        before, after = found.get((BASE, name)), found.get((name, name))
        task = (after or before or {}).get("task", "?")
        key, scale, digits, what = HEADLINE.get(task, ("?", 1, 2, "unknown task"))
        cells = [_cell(before, key, scale, digits), _cell(after, key, scale, digits)]
        general_after = _cell(found.get((name, GENERAL)), *GENERAL_METRIC)
        rows.append(f"| {name} | {task} | {key} ({what}) | {cells[0]} | {cells[1]} | "
                    f"{_delta(*cells)} | {general_before} | {general_after} | "
                    f"{_delta(general_before, general_after)} |")
        for model, folder in ((BASE, name), (name, name), (BASE, GENERAL), (name, GENERAL)):
            if (model, folder) not in found:
                missing.append(f"`custom/{model}/{folder}/metrics.json` not found (not run)")
    lines = ["## Your own domains (params.yaml `custom`)", "", *header, *rows, "",
             "- before: the base model; after: the model adapted on that domain (general SFT "
             "mix at the domain's general_ratio). Domain scores on the domain's test images "
             "(never trained on).",
             "- general: the general SFT items held out of every custom fine-tune "
             "(custom.general_holdout), short answers scored by exact match after "
             "normalisation, %; general Δ < 0 is what the adaptation cost (forgetting).",
             *(f"- n/a: {m}." for m in dict.fromkeys(missing))]
    return "\n".join(lines) + "\n"


def flat_custom(found: dict[tuple[str, str], dict], flatten) -> dict[str, dict]:
    """{model: {folder/metric: value}} for metrics/custom.json."""
    out: dict[str, dict] = {}
    for (model, folder), metrics in sorted(found.items()):
        out.setdefault(model, {}).update(flatten(metrics, folder + "/"))
    return out
