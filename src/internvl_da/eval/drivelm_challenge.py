"""DriveLM's challenge scorer (`challenge/evaluation.py` at 1de72a74), evaluation.md §6.3-6.5.

Ground truth: the QA JSON `{scene: {"key_frames": {frame: {"QA": {part: [{Q, A, tag}]}}}}}`;
item ids are `{scene}_{frame}_{i}` over perception + prediction + planning + behavior. Tags:
0 accuracy (exact, case-sensitive string equality), 1 ChatGPT score, 2 language metrics
(pycocoevalcap BLEU-1..4, ROUGE_L, CIDEr), 3 match (coordinate F1 and ChatGPT, averaged).
Graph filter: the first QA of a frame is always scored and its prediction's matches against
its GT (the GT points) form the frame's graph; a later QA whose question has `\\d+\\.\\d+` pairs
is scored only if every pair is in the graph, else skipped (not counted wrong).
Final = 0.4 chatgpt/100 + 0.2 language + 0.2 match/100 + 0.2 accuracy, with
language = mean(Bleu_1..4)/3 + ROUGE_L/3 + CIDEr/10/3.
Half of the weight needs the judge (judge.py). Without it `chatgpt`, `match` and `final` are
null and the judge-free `partial` = 0.2 language + 0.1 match_f1/100 + 0.2 accuracy (max 0.5,
not comparable to Table 4) is reported. Where the reference crashes (odd GT coordinate
count, missing prediction), this scorer stops with an error naming the item.
Paper (Table 4, official server): DA-1B Acc 0.7007, ChatGPT 63.84, Match 39.76, Final 0.5686.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from internvl_da.data.errors import SampleError
from internvl_da.eval import ptb
from internvl_da.eval.judge import Judge
from internvl_da.prep.drivelm import check_tags, iter_qa

WEIGHTS = (0.4, 0.2, 0.2, 0.2)  # chatgpt, language, match, accuracy
LANGUAGE_KEYS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr")
MATCH_DISTANCE = 16  # L1 pixels, strict <
NUMBER = re.compile(r"\d+\.\d+")
PARTIAL_LABEL = ("judge-free partial score 0.2*language + 0.1*match_f1/100 + 0.2*accuracy "
                 "(maximum 0.5); not comparable to the paper's Final")


@dataclass(frozen=True)
class GTItem:
    id: str  # {scene}_{frame}_{i}
    frame: str  # {scene}_{frame}
    question: str  # the original DriveLM question (raw camera-pixel tags)
    answer: str  # the original DriveLM answer
    tags: tuple[int, ...]


def gt_from_qa(raw: dict, source: str = "<drivelm gt>") -> list[GTItem]:
    """GT items of a DriveLM QA dict in the scorer's order; errors name scene, frame, QA."""
    items = []
    for scene, frame, i, entry, where in iter_qa(raw, source):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str)
                                                  for k in ("Q", "A")):
            raise SampleError(source, None, f"{where}: needs string 'Q' and 'A' (a "
                              "questions-only file cannot be scored)")
        if "tag" not in entry:
            raise SampleError(source, None, f"{where}: no 'tag'")
        items.append(GTItem(f"{scene}_{frame}_{i}", f"{scene}_{frame}", entry["Q"],
                            entry["A"], tuple(check_tags(entry["tag"], where, source))))
    return items


def load_gt(path: str | Path) -> list[GTItem]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SampleError(str(path), exc.lineno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise SampleError(str(path), None, "expected a DriveLM QA object {scene: {key_frames}}")
    return gt_from_qa(raw, str(path))


def points(text: str, where: str, drop_odd: bool) -> list[tuple[float, float]]:
    """(x, y) pairs of the `\\d+\\.\\d+` numbers; an odd count drops the last or is an error."""
    nums = [float(x) for x in NUMBER.findall(text)]
    if len(nums) % 2:
        if not drop_odd:
            raise ValueError(f"{where}: odd number of coordinates ({len(nums)}) in {text!r}; "
                             "DriveLM's scorer cannot pair them")
        nums = nums[:-1]
    return list(zip(nums[0::2], nums[1::2], strict=True))


def match_result(answer: str, gt: str, where: str = "") -> tuple[list[tuple], float]:
    """(matched GT points, F1): greedy nearest remaining GT point per predicted point, L1 < 16."""
    predicted = points(answer, where + " prediction", drop_odd=True)
    remaining = points(gt, where + " ground truth", drop_odd=False)
    length = len(remaining)
    matched, tp, fp = [], 0, 0
    for px, py in predicted:
        best, best_id = float("inf"), None
        for i, (gx, gy) in enumerate(remaining):
            distance = abs(px - gx) + abs(py - gy)
            if distance < best:  # ties keep the first GT point
                best, best_id = distance, i
        if best < MATCH_DISTANCE:
            tp += 1
            matched.append(remaining.pop(best_id))
        else:
            fp += 1
    fn = length - tp
    precision = tp / (tp + fp + 1e-8)
    recall = tp / (tp + fn + 1e-8)
    return matched, 2 * precision * recall / (precision + recall + 1e-8)


def select(items: list[GTItem], predictions: dict[str, str]) -> list[bool]:
    """Graph filter: whether each item is scored (the first item of each frame always is)."""
    missing = [item.id for item in items if item.id not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} ground-truth ids have no prediction, e.g. {missing[:3]}")
    scored, graphs = [], {}
    for item in items:
        if item.frame not in graphs:  # the frame's first QA sets its graph
            matched, _ = match_result(predictions[item.id], item.answer, item.id)
            graphs[item.frame] = set(matched)
            scored.append(True)
            continue
        pairs = points(item.question, f"{item.id} question", drop_odd=False)
        scored.append(all(pair in graphs[item.frame] for pair in pairs))
    return scored


def language_metrics(answers: list[str], gts: list[str]) -> dict[str, float]:
    """pycocoevalcap as language_evaluation.CocoEvaluator: one image per pair, GT as a
    one-element reference list with `_UNK` -> `_UNKNOWN`, PTBTokenizer, Bleu(4), Rouge(), Cider().
    """
    if shutil.which("java") is None:
        raise RuntimeError("DriveLM language metrics need Java: pycocoevalcap's PTBTokenizer runs "
                           "Stanford CoreNLP 3.4.1 (install a JRE, e.g. openjdk-17-jre-headless)")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    refs = {i: [{"caption": gt.replace("_UNK", "_UNKNOWN")}] for i, gt in enumerate(gts)}
    hyps = {i: [{"caption": answer}] for i, answer in enumerate(answers)}
    with contextlib.redirect_stdout(io.StringIO()):  # the scorers print progress
        # the released tokenizer, its temp file outside the (read-only) package: eval/ptb.py
        refs, hyps = ptb.tokenize(refs), ptb.tokenize(hyps)
        bleu, _ = Bleu(4).compute_score(refs, hyps, verbose=0)
        rouge, _ = Rouge().compute_score(refs, hyps)
        cider, _ = Cider().compute_score(refs, hyps)
    return dict(zip(LANGUAGE_KEYS, [*map(float, bleu), float(rouge), float(cider)], strict=True))


def language_score(language: dict[str, float]) -> float:
    """evaluation.py: weights by key position (first four /4/3, fifth /3, sixth /10/3)."""
    score = 0.0
    for position, value in enumerate(language.values()):
        score += value / 4 / 3 if position < 4 else value / 3 if position == 4 else value / 10 / 3
    return score


def final_score(chatgpt: float, language: dict[str, float], match: float,
                accuracy: float) -> float:
    parts = (chatgpt / 100, language_score(language), match / 100, accuracy)
    return sum(w * p for w, p in zip(WEIGHTS, parts, strict=True))


def partial_score(language: dict[str, float], match_f1: float, accuracy: float) -> float:
    """Judge-free part of the final score (evaluation.md §6.4); at most 0.5."""
    return 0.2 * language_score(language) + 0.1 * match_f1 / 100 + 0.2 * accuracy


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _judged(judge: Judge | None, pairs: list[tuple[str, str, str]]) -> list[float | None]:
    return [judge.score(a, g, where) if judge else None for where, a, g in pairs]


def evaluate(items: list[GTItem], predictions: dict[str, str],
             judge: Judge | None = None) -> tuple[dict, list[dict]]:
    """(metrics, per-item details) of DriveLM's challenge evaluation."""
    scored = select(items, predictions)
    used = [(item, predictions[item.id]) for item, ok in zip(items, scored, strict=True) if ok]
    by_tag = {t: [(i, a) for i, a in used if t in i.tags] for t in range(4)}
    correct = {i.id: a == i.answer for i, a in by_tag[0]}
    f1 = {i.id: match_result(a, i.answer, i.id)[1] * 100 for i, a in by_tag[3]}
    gpt = _judged(judge, [(i.id, a, i.answer) for i, a in by_tag[1]])
    gpt_match = _judged(judge, [(i.id, a, i.answer) for i, a in by_tag[3]])
    language = (language_metrics([a for _, a in by_tag[2]], [i.answer for i, _ in by_tag[2]])
                if by_tag[2] else None)
    accuracy, match_f1 = _mean([float(c) for c in correct.values()]), _mean(list(f1.values()))
    notes = []
    judged = None not in gpt and None not in gpt_match
    if not judged:
        notes.append(f"{gpt.count(None) + gpt_match.count(None)} judge scores missing (no live "
                     "judge and no cache line): chatgpt, match and final are null")
    chatgpt = _mean(gpt) if judged else None
    match = (match_f1 + _mean(gpt_match)) / 2 if judged and by_tag[3] else None
    empty = [str(t) for t in range(4) if not by_tag[t]]
    if empty:
        notes.append(f"no scored items with tag(s) {', '.join(empty)}: their metrics are null")
    complete = None not in (chatgpt, language, match, accuracy)
    metrics = {
        "accuracy": accuracy, "chatgpt": chatgpt, "match": match, "match_f1": match_f1,
        "language": language,
        "language_score": language_score(language) if language else None,
        "final": final_score(chatgpt, language, match, accuracy) if complete else None,
        "partial": (partial_score(language, match_f1, accuracy)
                    if None not in (language, match_f1, accuracy) else None),
        "partial_label": PARTIAL_LABEL, "counts": _counts(items, scored),
        "judge": judge.describe() if judge else "none (offline)",
        "note": "; ".join(notes) or None}
    details = [{"id": i.id, "tags": list(i.tags), "correct": correct.get(i.id),
                "f1": f1.get(i.id), "skipped": not ok}
               for i, ok in zip(items, scored, strict=True)]
    return metrics, details


def _counts(items: list[GTItem], scored: list[bool]) -> dict:
    per_tag = {str(t): {"scored": 0, "skipped": 0} for t in range(4)}
    for item, ok in zip(items, scored, strict=True):
        for t in set(item.tags) & {0, 1, 2, 3}:
            per_tag[str(t)]["scored" if ok else "skipped"] += 1
    return {"items": len(items), "scored": sum(scored), "skipped": len(scored) - sum(scored),
            "per_tag": per_tag}


def _json_rows(path: Path, text: str) -> list | None:
    """The prediction list of DriveLM's output.json (a list) or of its challenge submission
    (`prepare_submission.py`: an object with `results` and team metadata); None for JSONL."""
    stripped = text.lstrip()
    if not stripped.startswith(("[", "{")):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if stripped.startswith("{"):
            return None  # JSON lines: one object per line
        raise SampleError(str(path), exc.lineno, f"invalid JSON: {exc.msg}") from None
    if isinstance(data, dict):
        if "results" not in data:
            return None  # a one-line predictions.jsonl
        data = data["results"]
        if not isinstance(data, list):
            raise SampleError(str(path), None, "submission field 'results' is not a list")
    return data


def read_predictions(path: str | Path) -> tuple[dict[str, str], list[dict] | None]:
    """(id -> answer, JSONL records or None) from DriveLM's output.json list `{id, answer}`, its
    challenge submission `{"method", "team", ..., "results": [...]}`, or our predictions.jsonl
    `{id, prediction, ...}`; errors name the record or line."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    rows = _json_rows(path, text)
    if rows is not None:
        key, records = "answer", None
        located = [(f"record {k}", row) for k, row in enumerate(rows)]
    else:
        key, located = "prediction", []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    located.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise SampleError(str(path), number, f"invalid JSON: {exc.msg}") from None
        records = [row for _, row in located]
    answers = {}
    for where, row in located:
        line = where if isinstance(where, int) else None
        label = "" if line else f"{where}: "
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise SampleError(str(path), line, f"{label}missing string field 'id'")
        if not isinstance(row.get(key), str):
            raise SampleError(str(path), line, f"{label}missing string field {key!r}")
        answers[row["id"]] = row[key]
    return answers, records
