"""results.md: our metrics next to the paper's numbers, and flat metric files for `dvc metrics`.

Layout read (written by the pipeline): `DIR/<model>/<bench>/metrics.json`, where `<model>` is
`base` (before adaptation), a domain (`drivelm`, `medical`, `remote`: our fine-tune on it) or
`released-<domain>` (the released `OpenGVLab/Mini-InternVL2-<S>-DA-<X>` checkpoint, evaluated
by us: evaluation.md §9; it separates evaluation drift from training drift). One table per
benchmark family (DriveLM; MME-RealWorld driving; GMAI-MMBench; remote sensing as in Table 11),
rows in the order paper / released checkpoint / ours. A result we lack is `n/a`, and the notes
under the table say why (file not found, metric absent). Our metrics are fractions in [0, 1];
every column is converted to the paper's scale (x100 for percentages) and says so. Output bytes
depend only on the inputs. Your own domains (`DIR/custom/...`) get their own section with the
general held-out score before and after adaptation (report_custom.py), `metrics/custom.json`.
InternVL3.5 (issue 13): its tree is `results/internvl3.5-<size>` (pipeline.py); when the
InternVL2 tree `results/<size>` and the 3.5 tree both exist, each table shows InternVL2 (paper /
released / ours) and InternVL3.5 (base / adapted) side by side with the same columns; the 3.5
released row is n/a (no released DA checkpoint). A tree's family is read from its folder name.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from internvl_da.eval.paper import PAPER_SIZES, SIZE_ROWS, TABLES
from internvl_da.eval.report_custom import flat_custom, load_custom, render_custom
from internvl_da.fileio import read_json_object, write_text_atomic

DOMAINS = ("drivelm", "medical", "remote")
RELEASED_PREFIX = "released-"
MODELS = ("base", *DOMAINS, *(RELEASED_PREFIX + d for d in DOMAINS))
# The hub's name part of each domain's released checkpoint (evaluation.md §9).
RELEASED_NAMES = {"drivelm": "DriveLM", "medical": "Medical", "remote": "RS"}
BENCHES = ("drivelm", "mme-realworld", "gmai", "rsvqa-lr", "rsvqa-hr-test1", "rsvqa-hr-test2",
           "dior-rsvg")

MISSING = "n/a"  # our result is absent; the notes say why
TREE_35 = "internvl3.5-"  # results/internvl3.5-<size>: the InternVL3.5 tree (params family_dir)
NO_RELEASED_35 = "no released DA checkpoint for InternVL3.5"
NOT_COMPARABLE = "n/c"  # we do not compute it comparably (judge offline, unknown aggregation)
NOT_REPORTED = "–"  # the paper prints no value


@dataclass(frozen=True)
class Column:
    label: str
    bench: str  # our benchmark folder
    path: str | None  # key in our flattened metrics; None: we cannot compute it comparably
    paper: str | None  # the paper table's column; None: the paper has no such column
    scale: float  # our value x scale = the paper's scale
    digits: int
    help: str
    judge: bool = False  # DriveLM: depends on the GPT judge (never comparable with Table 4)


@dataclass(frozen=True)
class Family:
    table: str  # key of internvl_da.eval.paper.TABLES
    title: str
    domain: str  # the model adapted for this family
    columns: tuple[Column, ...]
    notes: tuple[str, ...] = ()


def _rs(prefix: str, bench: str) -> tuple[Column, ...]:
    pct = "percent (our fraction x 100)"
    return (Column(f"{prefix} Presence", bench, "per_type/presence", f"{prefix} Presence", 100,
                   2, f"{bench}: accuracy on `presence` questions (case-insensitive exact "
                   f"answer), {pct}"),
            Column(f"{prefix} Compare", bench, "per_type/comp", f"{prefix} Compare", 100, 2,
                   f"{bench}: accuracy on `comp` questions, {pct}"),
            Column(f"{prefix} Avg", bench, "avg", f"{prefix} Avg", 100, 2,
                   f"{bench}: question-weighted accuracy over the types other than count and "
                   f"area (`total_score_useful`; not the mean of the type columns), {pct}"))


FAMILIES: tuple[Family, ...] = (
    Family("drivelm", "DriveLM-nuScenes v1.1 val", "drivelm", (
        Column("Acc", "drivelm", "accuracy", "Acc", 1, 4,
               "exact-string accuracy over tag-0 questions; fraction 0-1 in both"),
        Column("ChatGPT†", "drivelm", "chatgpt", "ChatGPT", 1, 2,
               "GPT-3.5 judge score of tag-1 answers, 0-100 in both; null offline",
               judge=True),
        *(Column(f"B{n}", "drivelm", f"language/Bleu_{n}", f"B{n}", 1, 4,
                 f"BLEU-{n} of tag-2 answers (coco-caption); fraction 0-1 in both")
          for n in range(1, 5)),
        Column("ROUGE_L", "drivelm", "language/ROUGE_L", "ROUGE_L", 1, 4,
               "ROUGE-L of tag-2 answers; fraction 0-1 in both"),
        Column("CIDEr", "drivelm", "language/CIDEr", "CIDEr", 1, 4,
               "CIDEr-D of tag-2 answers, IDF from the ground truth; as printed in both"),
        Column("Match†", "drivelm", "match", "Match", 1, 2,
               "(mean F1 x 100 + mean judge score) / 2 over tag-3 questions, 0-100 in both",
               judge=True),
        Column("Final†", "drivelm", "final", "Final", 1, 4,
               "0.4 ChatGPT/100 + 0.2 language + 0.2 Match/100 + 0.2 Acc; fraction 0-1",
               judge=True),
        Column("Match F1", "drivelm", "match_f1", None, 1, 2,
               "the judge-free half of Match: mean F1 x 100 over tag-3 questions (0-100); "
               "the paper does not publish it separately"),
        Column("Partial", "drivelm", "partial", None, 1, 4,
               "judge-free partial score 0.2 language + 0.1 F1/100 + 0.2 Acc (maximum 0.5); "
               "not comparable with Final"),
    ), ("† needs the GPT judge (gpt-3.5-turbo, temperature 0.6): not comparable with Table 4 "
        "even when present; half of Final's weight depends on it.",
        "The paper's DriveLM numbers come from the official challenge server.")),
    Family("mme-realworld", "MME-RealWorld, Autonomous_Driving", "drivelm", (
        Column("Perception", "mme-realworld", "per_task/Perception", "Perception", 100, 2,
               "micro accuracy over Perception questions, percent (our fraction x 100)"),
        Column("Reasoning", "mme-realworld", "per_task/Reasoning", "Reasoning", 100, 2,
               "micro accuracy over Reasoning questions, percent (our fraction x 100)"),
        Column("Avg.", "mme-realworld", "overall", "Avg.", 100, 2,
               "overall micro accuracy (not the mean of the two columns), percent "
               "(our fraction x 100)"),
    ), ("The adapted model here is the DriveLM one, as in the paper.",)),
    Family("gmai", "GMAI-MMBench VAL", "medical", (
        Column("Overall", "gmai", "overall", None, 100, 2,
               "VLMEvalKit-style overall accuracy with exact matching (no LLM judge), percent "
               "(our fraction x 100); Table 9 has no such column"),
        *(Column(name, "gmai", None, name, 100, 2,
                 f"Table 9 `{name}` (percent); its aggregation is unknown (evaluation.md "
                 "§7.7), so we do not compute it") for name in TABLES["gmai"].columns),
    ), ("Our GMAI numbers use exact matching: predictions that cannot be matched count as "
        "wrong (VLMEvalKit would ask an LLM judge).",)),
    Family("remote", "Remote sensing: RSVQA and DIOR-RSVG", "remote", (
        Column("LR Rural/Urban", "rsvqa-lr", "per_type/rural_urban", "LR Rural/Urban", 100, 2,
               "rsvqa-lr: accuracy on `rural_urban` questions, percent (our fraction x 100)"),
        *_rs("LR", "rsvqa-lr"), *_rs("HR1", "rsvqa-hr-test1"), *_rs("HR2", "rsvqa-hr-test2"),
        Column("DIOR-RSVG Acc@0.5", "dior-rsvg", "acc@0.5", "DIOR-RSVG Acc@0.5", 100, 2,
               "dior-rsvg: share of boxes with IoU > 0.5 (+1-pixel IoU in pixels), percent "
               "(our fraction x 100)"),
    ), ("The question-type names (`presence`, `comp`, `rural_urban`) are those of our "
        "converted data.",)),
)

FOOTNOTES = {
    MISSING: f"{MISSING}: no result; the reason is listed for each row below.",
    NOT_COMPARABLE: f"{NOT_COMPARABLE}: not computed comparably with the paper (the column's "
                    "explanation says why: no GPT judge offline, or unknown aggregation).",
    NOT_REPORTED: f"{NOT_REPORTED}: not reported in the paper.",
}


def flatten(metrics: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested dict, keys joined with '/' (strings, None, bools dropped)."""
    flat: dict[str, float] = {}
    for key in sorted(metrics):
        value, name = metrics[key], f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "/"))
        elif isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value):
            flat[name] = value
    return flat


def load_results(results: Path) -> tuple[dict[tuple[str, str], dict], list[str]]:
    """{(model, bench): metrics} found under `results`, and the folders that were ignored."""
    if not results.is_dir():
        raise FileNotFoundError(f"{results}: results folder not found")
    found = {(m, b): read_json_object(results / m / b / "metrics.json")
             for m in MODELS for b in BENCHES if (results / m / b / "metrics.json").is_file()}
    ignored = sorted(str(p.parent.relative_to(results)) for p in results.glob("*/*/metrics.json")
                     if (p.parent.parent.name, p.parent.name) not in found)
    if not found:
        raise ValueError(f"{results}: no <model>/<bench>/metrics.json found (models "
                         f"{', '.join(MODELS)}; benchmarks {', '.join(BENCHES)})")
    return found, ignored


def _our_cell(column: Column, model: str, metrics: dict | None) -> tuple[str, str | None]:
    """(cell, reason when the cell is n/a)."""
    if column.path is None:
        return NOT_COMPARABLE, None
    where = f"`{model}/{column.bench}/metrics.json`"
    if metrics is None:
        return MISSING, f"{where} not found (not run)"
    value = flatten(metrics).get(column.path)
    if value is None:
        if column.judge and _has_null(metrics, column.path):
            return NOT_COMPARABLE, None
        return MISSING, f"{where} has no `{column.path}`"
    return f"{value * column.scale:.{column.digits}f}", None


def _has_null(metrics: dict, path: str) -> bool:
    node = metrics
    for part in path.split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return node is None


def _paper_cell(table: str, row: str, column: Column) -> str:
    if column.paper is None:
        return NOT_REPORTED
    return TABLES[table].cell(row, column.paper) or NOT_REPORTED


def paper_rows(table: str, size: str | None) -> tuple[list[tuple[str, str]], list[str]]:
    """[(label, paper row)] shown for `size`, and notes (reference-only, missing rows)."""
    source = TABLES[table].source
    if size in PAPER_SIZES:
        rows, notes = [], []
        for stage, what in (("base", "before adaptation"), ("da", "after adaptation")):
            row = SIZE_ROWS.get((table, size, stage))
            if row is None:
                notes.append(f"{source} has no {size.upper()} row {what}.")
            else:
                rows.append((f"paper: {row}", row))
        return rows, notes
    rows = [(f"reference only: {SIZE_ROWS[key]}", SIZE_ROWS[key])
            for stage in ("base", "da") for s in PAPER_SIZES
            if (key := (table, s, stage)) in SIZE_ROWS]
    what = f"size `{size}` is not a paper size" if size else "no --size given"
    return rows, [f"Paper rows are for reference only ({what}); no row matches our model."]


def _row(label: str, cells: list[str]) -> str:
    return "| " + " | ".join([label, *cells]) + " |"


def released_label(domain: str, size: str | None) -> str:
    """Row label of the released DA checkpoint of `domain` at `size`."""
    name = RELEASED_NAMES[domain]
    if size in PAPER_SIZES:
        return f"released: OpenGVLab/Mini-InternVL2-{size.upper()}-DA-{name} (our evaluation)"
    return f"released: stand-in for the DA-{name} checkpoint (size {size or 'not given'})"


def _our_rows(family: Family, size: str | None,
              model_family: str = "internvl2") -> list[tuple[str, str | None]]:
    """(label, model folder) of the rows evaluated by us: released checkpoint, then ours;
    InternVL3.5: base / adapted (its released row has no folder: n/a, no checkpoint)."""
    if model_family == "internvl3.5":
        return [(f"InternVL3.5 released: {MISSING} ({NO_RELEASED_35})", None),
                ("InternVL3.5: base (before adaptation)", "base"),
                (f"InternVL3.5: {family.domain} (after adaptation)", family.domain)]
    return [(released_label(family.domain, size), RELEASED_PREFIX + family.domain),
            ("ours: base (before adaptation)", "base"),
            (f"ours: {family.domain} (after adaptation)", family.domain)]


def tree_family(results: Path) -> str:
    """The model family of a results tree, from its folder name (results/internvl3.5-<size>)."""
    return "internvl3.5" if results.name.startswith(TREE_35) else "internvl2"


def sibling_tree(results: Path) -> Path:
    """The other family's tree next to `results` (results/<size> <-> internvl3.5-<size>)."""
    name = results.name
    other = name.removeprefix(TREE_35) if name.startswith(TREE_35) else TREE_35 + name
    return results.parent / other


def render_family(family: Family, found: dict, size: str | None,
                  trees: dict[str, dict] | None = None) -> str:
    """One table: paper rows, then our rows of each family tree in `trees` ({family: found};
    default: `found` as InternVL2's)."""
    source = TABLES[family.table].source
    header = [_row("model", [c.label for c in family.columns]),
              "|" + "---|" * (len(family.columns) + 1)]
    rows, row_notes = paper_rows(family.table, size)
    body = [_row(f"{label} ({source})", [_paper_cell(family.table, row, c)
                                         for c in family.columns]) for label, row in rows]
    missing = []
    for model_family, tree in (trees or {"internvl2": found}).items():
        for label, model in _our_rows(family, size, model_family):
            body.append(_our_row(family, label, model, tree, missing))
    used = [mark for mark in FOOTNOTES if any(f"| {mark} |" in line for line in body)]
    lines = [f"## {family.title} (paper {source})", "", *header, *body, "", "Columns:"]
    lines += [f"- **{c.label}**: {c.help}." for c in family.columns]
    lines += ["", *[f"- {note}" for note in (*family.notes, *row_notes)]]
    lines += [f"- {FOOTNOTES[mark]}" for mark in used]
    lines += [f"- {note}" for note in missing]
    return "\n".join(lines) + "\n"


def _our_row(family: Family, label: str, model: str | None, found: dict,
             missing: list[str]) -> str:
    """A row of ours; the reasons of its n/a cells are appended to `missing`."""
    if model is None:
        return _row(label, [MISSING] * len(family.columns))
    label += _extractor_label(family, model, found)
    cells = [_our_cell(c, model, found.get((model, c.bench))) for c in family.columns]
    reasons = list(dict.fromkeys(reason for _, reason in cells if reason))
    if reasons:
        missing.append(f"{MISSING} in `{label}`: {'; '.join(reasons)}.")
    return _row(label, [cell for cell, _ in cells])


def _extractor_label(family: Family, model: str, found: dict) -> str:
    """MME-RealWorld rows say which answer extractor produced them when it is not the default."""
    metrics = found.get((model, "mme-realworld")) if family.table == "mme-realworld" else None
    name = (metrics or {}).get("extractor")
    return f" [{name} extractor]" if name not in (None, "internvl") else ""


def render(found: dict, size: str | None, custom: dict | None = None,
           trees: dict[str, dict] | None = None) -> str:
    """The whole report; `trees` ({family: found}) shows both families side by side."""
    title = f"size {size}" if size else "size not given"
    intro = (f"# Results vs. the Mini-InternVL paper ({title})\n\n"
             "Rows: `paper` copied from arXiv 2410.16261 (evaluation.md §8); `released` the "
             "released DA checkpoint evaluated here (`released-<domain>/<bench>/metrics.json`); "
             "`ours` our base model and our fine-tune (`<model>/<bench>/metrics.json`). A gap "
             "between paper and released is evaluation drift, between released and ours "
             "training drift. Each column is shown on the paper's scale.\n")
    if trees and "internvl3.5" in trees:
        intro += ("\nInternVL3.5 rows (issue 13): the InternVL3.5 model of this size before "
                  "and after the same adaptation (`results/internvl3.5-<size>`); no released "
                  "DA checkpoint exists for it.\n")
    sections = [intro, *(render_family(f, found, size, trees) for f in FAMILIES)]
    own = render_custom(custom or {})
    return "\n".join(sections + ([own] if own else []))


def flat_metrics(found: dict) -> dict[str, dict[str, dict[str, float]]]:
    """{bench: {model: flat numeric metrics}} for the benchmarks with at least one result."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (model, bench) in sorted(found):
        out.setdefault(bench, {})[model] = flatten(found[(model, bench)])
    return out


def family_trees(results: Path, found: dict, family: str | None = None) -> dict[str, dict]:
    """{family: found} of `results` and, when it holds results, the other family's tree next to
    it, InternVL2 first (the side-by-side tables). `family` (params `family`) names the family of
    `results` when its folder name does not (an InternVL3.5 run with `family_dir: ""`); then no
    sibling tree is looked up, its name would mean the wrong family."""
    named = tree_family(results)
    trees = {family or named: found}
    other = sibling_tree(results)
    if (family or named) == named and other.is_dir():
        with contextlib.suppress(ValueError):  # empty or foreign: nothing to show side by side
            trees[tree_family(other)] = load_results(other)[0]
    return {f: trees[f] for f in ("internvl2", "internvl3.5") if f in trees}


def write_report(results: str | Path, out: str | Path | None = None,
                 size: str | None = None, family: str | None = None) -> str:
    """Write results.md and `metrics/<bench>.json` ({bench: {model: metrics}}) under `results`;
    return the markdown."""
    results = Path(results)
    found, ignored = load_results(results)
    for path in ignored:
        print(f"report: ignored {results / path} (not <model>/<bench> with model in "
              f"{MODELS} and bench in {BENCHES})", file=sys.stderr)
    custom = load_custom(results)  # your own domains: results/custom (report_custom.py)
    text = render(found, size, custom, family_trees(results, found, family))
    write_text_atomic(Path(out) if out else results / "results.md", text)
    write_text_atomic(results / "metrics" / "custom.json",  # always written: a dvc.yaml metric
                      json.dumps({"custom": flat_custom(custom, flatten)}, indent=1,
                                 sort_keys=True) + "\n")
    for bench, by_model in flat_metrics(found).items():  # keyed by bench: short, unique
        write_text_atomic(results / "metrics" / f"{bench}.json",  # dvc exp show columns
                          json.dumps({bench: by_model}, indent=1, sort_keys=True) + "\n")
    return text
