"""GMAI-MMBench (medical) as VLMEvalKit at the paper-time commit 4d6d204e (evaluation.md §7).

Data: the released VAL TSV `GMAI-MMBench_VAL.tsv` as VLMEvalKit reads it: column names
lowercased except single capital option letters; `image` is base64, or (<= 64 characters) the
`index` of the row that holds the image; columns index, question, A..E, answer, category,
`clinical vqa task`, department, `perceptual granularity`, modality.
Prompt (`InternVLChat.build_multi_choice_prompt`): [hint + newline] + question, then for each
non-empty option in letter order newline + 'L. ' + text, then
"\\nAnswer with the option's letter from the given choices directly." (the Chinese instruction
when the text has Chinese characters). Tiles: max_num 6; max_new_tokens 1024.
Matching: `can_infer` of 2024-10-19 with the exact-matching judge: a prediction that cannot be
inferred becomes 'Z' (always wrong); a null prediction is matched as the text "None"
(`str(answer)`). Optionally (`score gmai --judge-cache`), VLMEvalKit's LLM choice extraction
for those, cached and replayed; the metrics name the judge used. The reference reads the
VERBOSE environment variable for one rule; it is taken as unset here.
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


# Cells pandas (>= 2.0) `read_csv` reads as NaN by default; VLMEvalKit drops such options
# (`pd.isna`) and hints. The TSV is read here with the csv module, so the rule is applied by hand.
PANDAS_NA = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                       "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                       "nan", "null"})


def _present(value) -> bool:
    return value is not None and str(value) not in PANDAS_NA


def options(row: dict) -> dict[str, str]:
    """Option columns VLMEvalKit keeps (not NaN as pandas reads them), letter order."""
    return {letter: str(row[letter]) for letter in string.ascii_uppercase
            if letter in row and _present(row[letter])}


def build_prompt(row: dict) -> str:
    text = (str(row["hint"]) + "\n" if _present(row.get("hint")) else "")
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


def infer(prediction: str | None, choices: dict[str, str]) -> str | None:
    """VLMEvalKit's `can_infer`: the letter the rules extract, or None.

    It starts with `str(answer)`, so a null prediction is matched as the text "None" (it can
    hit an option such as "No"), not as an empty string."""
    text = str(prediction)
    return _infer_option(text, choices) or _infer_text(text, choices)


def can_infer(prediction: str | None, choices: dict[str, str]) -> str:
    """The letter VLMEvalKit's exact-matching evaluation extracts ('Z' when none)."""
    return infer(prediction, choices) or "Z"


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
    and its reply matched by the same rules; no usable reply leaves 'Z'. As in VLMEvalKit's
    `extract_answer_from_item`, a 'Z' the rules do extract (a refusal, a bare Z) is final."""
    letter = infer(record["prediction"], record["choices"])
    if letter is None and llm is not None:
        question = record.get("raw_question", record["question"])
        reply = llm.reply(judge_prompt(question, record["choices"], str(record["prediction"])))
        letter = infer(reply, record["choices"])
    letter = letter or "Z"
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


# Base64 images exceed the csv module's default field limit (128 KiB); pandas has none.
FIELD_LIMIT = 2**31 - 1
REQUIRED = ("index", "question", "answer", "image")


def _column(name: str) -> str:
    """VLMEvalKit: every column name lowercased except single capital letters (options)."""
    return name if len(name) == 1 and name in string.ascii_uppercase else name.lower()


def read_rows(annotation: Path) -> list[tuple[str, dict]]:
    """(where, row) of the TSV with VLMEvalKit's column names; `where` = 'FILE:LINE'."""
    csv.field_size_limit(FIELD_LIMIT)
    rows = []
    if not Path(annotation).is_file():
        raise FileNotFoundError(f"{annotation}: annotation file not found")
    with open(annotation, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = [_column(c) for c in next(reader, [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ValueError(f"{annotation}:1: missing columns {missing} (header {header[:12]})")
        for values in reader:
            where = f"{annotation}:{reader.line_num}"
            if len(values) != len(header):
                raise ValueError(f"{where}: {len(values)} fields for {len(header)} columns")
            rows.append((where, dict(zip(header, values, strict=True))))
    return rows


def _images(rows: list[tuple[str, dict]]) -> dict[str, str]:
    """index -> base64, resolving VLMEvalKit's short references to another row's image."""
    by_index = {row["index"]: row["image"] for _, row in rows}
    resolved = {}
    for where, row in rows:
        image = row["image"]
        if len(image) <= 64:
            if len(by_index.get(image, "")) <= 64:
                raise ValueError(f"{where}: image {image!r} is neither base64 nor the index of "
                                 "a row holding one")
            image = by_index[image]
        resolved[row["index"]] = image
    return resolved


def load(annotation: Path, image_root: Path) -> list[dict]:
    """VAL rows with the VLMEvalKit prompt; base64 images decoded once into `image_root`."""
    rows = read_rows(annotation)
    images = _images(rows)
    image_root.mkdir(parents=True, exist_ok=True)
    items = []
    for where, row in rows:
        try:
            index = int(row["index"])
        except ValueError:
            raise ValueError(f"{where}: index {row['index']!r} is not an integer") from None
        path = image_root / f"{index}.png"
        if not path.is_file():
            try:  # lenient like VLMEvalKit's decode (characters outside base64 ignored)
                data = base64.b64decode(images[row["index"]])
            except ValueError:
                raise ValueError(f"{where}: image is not valid base64") from None
            write_bytes_atomic(path, data)
        items.append({"id": index, "question": build_prompt(row),
                      "raw_question": str(row["question"]), "image": str(path),
                      "answer": row["answer"], "choices": options(row),
                      **{g: row[g] for g in GROUPS if g in row}})
    return items
