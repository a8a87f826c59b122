"""Your own domain's test set (`prep custom` test.jsonl) as evaluation items, for the four tasks.

Data: InternVL JSONL lines `{id, image, conversations: [human, gpt], task, ...}` written by
prep/custom.py (and the general held-out set of pipeline_custom.py, a `vqa` file): the question
asked is the human turn without its `<image>` line, exactly as in training. Extra fields per task:
mcq `choices` {letter: text}; caption `references` [text]; grounding `bbox` (pixels) + `size`.
Items carry what each scorer needs (eval/custom_{vqa,caption,mcq,grounding}.py).
"""

from __future__ import annotations

from pathlib import Path

from internvl_da.data.tokens import IMAGE_TAG
from internvl_da.eval.records import need
from internvl_da.fileio import read_jsonl_objects

TASKS = ("vqa", "caption", "mcq", "grounding")
BENCHMARKS = {task: f"custom-{task}" for task in TASKS}  # task -> benchmark name


def _turns(record: dict, where: str) -> tuple[str, str]:
    turns = need(record, "conversations", list, where)
    if len(turns) != 2 or not all(isinstance(t, dict) for t in turns) \
            or [t.get("from") for t in turns] != ["human", "gpt"]:
        raise ValueError(f"{where}: expected one human turn and one gpt turn")
    question = need(turns[0], "value", str, where)
    if not question.startswith(IMAGE_TAG + "\n"):
        raise ValueError(f"{where}: the human turn must start with {IMAGE_TAG!r} and a newline")
    return question[len(IMAGE_TAG) + 1:], need(turns[1], "value", str, where)


def load_task(task: str, annotation: Path, image_root: Path) -> list[dict]:
    """Items {id, question, image, answer, + the task's fields} of a custom test.jsonl."""
    items = []
    for number, record in read_jsonl_objects(annotation):
        where = f"{annotation}:{number}"
        found = record.get("task", task)
        if found != task:
            raise ValueError(f"{where}: a {found!r} item in a {task!r} evaluation")
        question, answer = _turns(record, where)
        item = {"id": need(record, "id", str, where), "question": question,
                "image": str(Path(image_root) / need(record, "image", str, where))}
        if task == "mcq":
            item.update(answer=answer, choices=need(record, "choices", dict, where))
        elif task == "caption":
            item.update(answer=answer, references=need(record, "references", list, where))
        elif task == "grounding":
            item.update(answer=need(record, "bbox", list, where),
                        image_size=need(record, "size", list, where))
        else:
            item["answer"] = answer
        items.append(item)
    return items


def loader(task: str):
    """`Benchmark.load` of custom-<task>."""
    def load(annotation: Path, image_root: Path) -> list[dict]:
        return load_task(task, annotation, image_root)
    return load
