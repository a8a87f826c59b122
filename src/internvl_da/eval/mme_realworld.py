"""MME-RealWorld, Autonomous_Driving subset, as InternVL's `eval/domain_specific/mme_rw`.

Data: the release's `MME_RealWorld.json` (a JSON list; images under its `data/`, records name
`AutonomousDriving/...`) filtered to Subtask == Autonomous_Driving (multiple choice, five
options, the fifth "(E) All the above answers are wrong."); evaluation.md §5.
Prompt ("reference", the default, comparable with Table 5): Text + '选项如下所示:' + newline +
the choices joined by newlines + newline + INSTRUCTION (the reference's swapped language
branches and 13 spaces kept). max_new_tokens 100.
Answer extraction (§5.4) and scoring (§5.5): micro accuracy per task, per category and overall;
the paper's Avg. is the overall micro accuracy. `score(records, extractor="official")` swaps in
MME-RealWorld's own extractor (`extract_characters_regex` of the release's
`evaluation/eval_your_results.py`): the same rules with a different prefix list (its missing
commas fuse "Best answer:" with "Best option:", so neither is removed on its own). Scoring
stays InternVL's (categories neither lowercased nor merged).
Paper (Table 5, reference extractor): DA-1B Perception 42.95, Reasoning 27.75, Avg. 38.87.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from internvl_da.eval.records import need, read_json_list

INSTRUCTION = ("Select the best answer to the above multiple-choice question based on the image."
               + " " * 13 + "Respond with only the letter (A, B, C, D, or E) of the correct "
               "option. \nThe best answer is:")
# Reference list, including its missing comma ("...isThe correct option is").
PREFIXES = ("The best answer is", "The correct answer is", "The answer is", "The answer",
            "The best option isThe correct option is", "Best answer:", "Best option:")
# MME-RealWorld's list (evaluation/eval_your_results.py), with its two missing commas.
OFFICIAL_PREFIXES = ("The best answer is", "The correct answer is", "The answer is", "The answer",
                     "The best option isThe correct option is", "Best answer:Best option:")
TASKS = ("Perception", "Reasoning")

# Fields a predictions record needs (checked by `internvl-da score`).
FIELDS = {"id": (int, str), "prediction": (str, type(None)), "answer": str,
          "choices": list, "task": str, "category": str}


def build_prompt(text: str, choices: list[str]) -> str:
    """The reference question text (`language='en'` takes the Chinese joiner; kept)."""
    return text + "选项如下所示:\n" + "\n".join(choices) + "\n" + INSTRUCTION


def post_process(response: str, choices: list[str], prefixes: tuple[str, ...] = PREFIXES) -> str:
    """The reference letter extraction, quirks included (first capital A-E anywhere; an
    empty remainder maps to the first choice)."""
    s = response.strip()
    for prefix in prefixes:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not re.search("[ABCDE]", s):
        return ""
    match = re.search("[ABCDE]", s)
    if match is not None:
        return match[0]
    for choice in choices:
        if s.lower() in choice.lower():
            return choice[1]
    return ""


def official_extract(response: str, choices: list[str]) -> str:
    """MME-RealWorld's `extract_characters_regex`: InternVL's rules, the official prefix list."""
    return post_process(response, choices, OFFICIAL_PREFIXES)


EXTRACTORS = {"internvl": post_process, "official": official_extract}


def _extractor(name: str):
    if name not in EXTRACTORS:
        raise ValueError(f"unknown extractor {name!r}; choose from {sorted(EXTRACTORS)}")
    return EXTRACTORS[name]


def judge(record: dict, extractor: str = "internvl") -> dict:
    """{correct, pred} of one prediction record (the extracted letter)."""
    letter = _extractor(extractor)(record["prediction"] or "", record["choices"])
    return {"correct": letter == record["answer"], "pred": letter}


def score(records: list[dict], extractor: str = "internvl") -> dict:
    """`overall`, `per_task`, `per_category` micro accuracies (letters compared exactly), and
    the `extractor` used ("internvl": the reference script's, comparable with Table 5)."""
    _extractor(extractor)
    right, total = Counter(), Counter()
    for r in records:
        if r["task"] not in TASKS:
            raise KeyError(f"record {r['id']}: unknown task {r['task']!r}")
        hit = judge(r, extractor)["correct"]
        for key in (("task", r["task"]), ("category", r["category"]), ("all", "")):
            right[key] += hit
            total[key] += 1

    def table(kind):
        return {k[1]: round(right[k] / total[k], 4) for k in sorted(total) if k[0] == kind}

    return {"overall": round(right[("all", "")] / total[("all", "")], 4) if records else None,
            "per_task": table("task"), "per_category": table("category"), "extractor": extractor}


SUBTASK = "Autonomous_Driving"


def load(annotation: Path, image_root: Path) -> list[dict]:
    """Autonomous-driving items of the release's JSON list, with the reference prompt; as the
    reference, a question of that subtask that is not multiple choice is an error."""
    items = []
    for where, r in read_json_list(annotation):
        if need(r, "Subtask", str, where) != SUBTASK:
            continue
        if need(r, "Question Type", str, where) != "Multiple Choice":
            raise ValueError(f"{where}: Question Type {r['Question Type']!r}; the reference "
                             "asserts 'Multiple Choice'")
        choices = need(r, "Answer choices", list, where)
        if not all(isinstance(c, str) and len(c) > 1 for c in choices):
            raise ValueError(f"{where}: 'Answer choices' must be strings like '(A) ...'")
        items.append({"id": need(r, "Question_id", (str, int), where),
                      "question": build_prompt(need(r, "Text", str, where), choices),
                      "image": str(image_root / need(r, "Image", str, where)),
                      "answer": need(r, "Ground truth", str, where), "choices": choices,
                      "task": need(r, "Task", str, where),
                      "category": need(r, "Category", str, where)})
    return items
