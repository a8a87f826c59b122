"""GMAI-MMBench (medical) as VLMEvalKit at the paper-time commit 4d6d204e (evaluation.md §7).

Data: the VAL TSV (columns index, question, A..E, answer, image as base64, category,
`clinical vqa task`, department, `perceptual granularity`, modality).
Prompt (`InternVLChat.build_multi_choice_prompt`): [hint + newline] + question, then for each
non-empty option in letter order newline + 'L. ' + text, then
"\\nAnswer with the option's letter from the given choices directly." (the Chinese instruction
when the text has Chinese characters). Tiles: max_num 6; max_new_tokens 1024.
Matching: `can_infer` of 2024-10-19 with the exact-matching judge: a prediction that cannot be
inferred becomes 'Z' (always wrong). Optionally (`score gmai --judge-cache`), VLMEvalKit's LLM
choice extraction for those, cached and replayed; the metrics name the judge used. The
reference reads the VERBOSE environment variable for one rule; it is taken as unset here.
"""

from __future__ import annotations

import base64
import csv
import re
import string
from collections import Counter
from pathlib import Path

from internvl_da.fileio import write_bytes_atomic

INSTRUCTION_EN = "\nAnswer with the option's letter from the given choices directly."
INSTRUCTION_ZH = "\n请直接回答选项字母。"
REFUSALS = ("Sorry, I can't help with images of people yet.", "I can't process this file.",
            "I'm sorry, but without the image provided", "Cannot determine the answer")
GROUPS = ("clinical vqa task", "department", "perceptual granularity")

# Fields a predictions record needs (checked by `internvl-da score`).
FIELDS = {"id": (int, str), "prediction": (str, type(None)), "answer": str,
          "choices": dict}


def options(row: dict) -> dict[str, str]:
    """Non-empty option columns, letter order."""
    return {letter: str(row[letter]) for letter in string.ascii_uppercase
            if letter in row and row[letter] not in (None, "") and str(row[letter]) != "nan"}


def build_prompt(row: dict) -> str:
    text = (str(row["hint"]) + "\n" if row.get("hint") not in (None, "", "nan") else "")
    text += str(row["question"])
    for letter, option in options(row).items():
        text += f"\n{letter}. {option}"
    chinese = re.search(r"[\u4e00-\u9fff]", text) is not None
    return text + (INSTRUCTION_ZH if chinese else INSTRUCTION_EN)


def _infer_option(prediction: str, choices: dict[str, str]) -> str | None:
    if "Failed to obtain answer via API" in prediction:
        return None
    if any(refusal in prediction for refusal in REFUSALS):
        return "Z"
    cleaned = prediction
    for char in ".()[],:;!*#{}":
        cleaned = cleaned.replace(char, " ")
    tokens = cleaned.split()
    found = [letter for letter in choices if letter in tokens]
    if len(found) == 1:
        return found[0]
    if not found and "Z" in tokens:
        return "Z"
    return None


def _infer_text(prediction: str, choices: dict[str, str]) -> str | None:
    lowered = prediction.lower()
    found = [letter for letter, text in choices.items() if text.lower() in lowered]
    return found[0] if len(found) == 1 else None


def can_infer(prediction: str | None, choices: dict[str, str]) -> str:
    """The letter VLMEvalKit's exact-matching evaluation extracts ('Z' when none)."""
    prediction = prediction or ""
    return _infer_option(prediction, choices) or _infer_text(prediction, choices) or "Z"


# VLMEvalKit's choice-extraction prompt (`build_prompt` of its multiple-choice utilities).
JUDGE_TEMPLATE = (
    "You are an AI assistant who will help me to match an answer with several options of a "
    "single-choice question. You are provided with a question, several options, and an answer, "
    "and you need to find which option is most similar to the answer. If the meaning of all "
    "options are significantly different from the answer, output Z. Your should output a single "
    "uppercase character in A, B, C, D (if they are valid options), and Z. \n"
    "Example 1: \nQuestion: What is the main object in image?\nOptions: A. teddy bear "
    "B. rabbit C. cat D. dog\nAnswer: a cute teddy bear\nYour output: A\n"
    "Example 2: \nQuestion: What is the main object in image?\nOptions: A. teddy bear "
    "B. rabbit C. cat D. dog\nAnswer: Spider\nYour output: Z\n"
    "Example 3: \nQuestion: {}?\nOptions: {}\nAnswer: {}\nYour output: ")


def judge_prompt(question: str, choices: dict[str, str], prediction: str) -> str:
    """The choice-extraction request for one item (options as VLMEvalKit's `build_option_str`)."""
    listed = "There are several options: \n" + "".join(f"{k}. {v}\n" for k, v in choices.items())
    return JUDGE_TEMPLATE.format(question, listed, prediction)


def judge(record: dict, llm=None) -> dict:
    """{correct, pred} of one prediction record (the inferred letter; 'Z' when none).

    With `llm` (eval.judge.ChoiceJudge), a prediction the rules cannot match is put to the LLM
    and its reply matched by the same rules; no usable reply leaves 'Z'."""
    letter = can_infer(record["prediction"], record["choices"])
    if letter == "Z" and llm is not None and record["prediction"]:
        question = record.get("raw_question", record["question"])
        reply = llm.reply(judge_prompt(question, record["choices"], record["prediction"]))
        letter = can_infer(reply, record["choices"])
    return {"correct": letter == record["answer"], "pred": letter}


def score(records: list[dict], llm=None) -> dict:
    """`overall` and per-group micro accuracies (records carry `choices` and group fields)."""
    right, total = Counter(), Counter()
    for r in records:
        hit = judge(r, llm)["correct"]
        keys = [("overall", "")] + [(g, str(r.get(g))) for g in GROUPS if r.get(g) is not None]
        for key in keys:
            right[key] += hit
            total[key] += 1

    def table(group):
        return {k[1]: round(right[k] / total[k], 4) for k in sorted(total) if k[0] == group}

    result = {"overall": round(right[("overall", "")] / len(records), 4) if records else None,
              "judge": llm.describe() if llm is not None else "exact matching (no LLM judge)"}
    for group in GROUPS:
        result["per_" + group.replace(" ", "_")] = table(group)
    return result


def load(annotation: Path, image_root: Path) -> list[dict]:
    """VAL rows with the VLMEvalKit prompt; base64 images decoded once into `image_root`."""
    image_root.mkdir(parents=True, exist_ok=True)
    items = []
    with open(annotation, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            path = image_root / f"{row['index']}.png"
            if not path.is_file():
                write_bytes_atomic(path, base64.b64decode(row["image"]))
            items.append({"id": int(row["index"]), "question": build_prompt(row),
                          "raw_question": str(row["question"]),
                          "image": str(path), "answer": row["answer"],
                          "choices": options(row),
                          **{g: row[g] for g in GROUPS if g in row}})
    return items
