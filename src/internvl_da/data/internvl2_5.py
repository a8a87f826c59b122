"""Label masks of the `internvl2_5` template, the one InternVL3.5 (Qwen3) was trained with.

Spec internvl35.md §4–§5; reference `preprocess_internvl2_5` (byte-identical in
`internvl_chat/internvl/train/dataset.py` and `internvl_chat_gpt_oss/.../dataset.py`):
1. a first turn whose ROLE is `system` gives the system prompt (else the template's); the
   reference's loader tests the first turn's VALUE against 'system' (known bug, §5): we test
   the role, so the single-image `<image>\\n` lands in the first human turn, never the system;
2. `<image>` in human turns only, in order, becomes `<img>` + `<IMG_CONTEXT>` x 256·T + `</img>`;
3. one string per turn: `<|im_start|>{role}\\n{value}<|im_end|>\\n`, each tokenized ALONE (no
   BPE merge crosses a turn), BOS (tokenizers that add one) before the first only;
4. labels: system and human turns all -100; a gpt turn trains everything but its first
   `ignore_len` tokens (the tokenization of `<|im_start|>assistant\\n`) and its last token
   (the `\\n` after `<|im_end|>`): trained = answer + `<|im_end|>`. An answer starting with
   "\\n" merges with the header's newline and that token stays masked, as in the reference;
5. no leading-gpt-turn drop (InternVL2's `source[1:]` is not in this function): it is trained;
   turns need not alternate; at least one gpt turn must be there.
Truncation and its checks are the caller's (templates.py), as for the InternVL2 templates.
"""

from __future__ import annotations

from collections.abc import Sequence

from internvl_da.data.errors import SampleError
from internvl_da.data.tokens import IGNORE_INDEX, IMAGE_TAG, expand_image_tags

ROLE_HEADERS = {"system": "<|im_start|>system\n", "human": "<|im_start|>user\n",
                "gpt": "<|im_start|>assistant\n"}


def checked_turns(conversations: Sequence[dict], num_images: int, default_system: str,
                  source: str, line: int | None) -> tuple[str, list[tuple[str, str]]]:
    """(system prompt, [(role, value), ...]) with the tag rules of spec §5 checked."""
    turns = [dict(t) if isinstance(t, dict) else t for t in conversations]
    for k, turn in enumerate(turns, 1):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise SampleError(source, line, f"turn {k}: must be an object with a string 'value'")
    system = default_system
    offset = 0
    if turns and turns[0].get("from") == "system":
        system, turns, offset = turns[0]["value"], turns[1:], 1
    pairs = []
    for k, turn in enumerate(turns, 1 + offset):
        role, value = turn.get("from"), turn["value"]
        if role not in ("human", "gpt"):  # reference: NotImplementedError
            raise SampleError(source, line, f"turn {k}: unsupported role {role!r} "
                              "(a first system turn, then human/gpt)")
        if role == "gpt" and not value.strip():
            raise SampleError(source, line, f"turn {k}: empty answer")
        if role == "gpt" and IMAGE_TAG in value:
            raise SampleError(source, line, f"turn {k}: <image> tag in a gpt answer")
        pairs.append((role, value))
    if not any(role == "gpt" for role, _ in pairs):
        raise SampleError(source, line, "conversation has no gpt answer to train on")
    tags = sum(v.count(IMAGE_TAG) for r, v in pairs if r == "human")
    if num_images == 1 and tags == 0:
        first = next((i for i, (r, _) in enumerate(pairs) if r == "human"), None)
        if first is None:
            raise SampleError(source, line, "an image but no human turn to put it in")
        pairs[first] = ("human", IMAGE_TAG + "\n" + pairs[first][1])
        tags = 1
    if tags != num_images:
        raise SampleError(source, line, f"{tags} <image> tags for {num_images} images")
    return system, pairs


def turn_strings(system: str, pairs: list[tuple[str, str]], counts: Sequence[int]) -> list[
        tuple[str, str]]:
    """(role, text) of every segment, image tags of human turns expanded in order."""
    counts = list(counts)
    out = [("system", ROLE_HEADERS["system"] + system + "<|im_end|>\n")]
    for role, value in pairs:
        if role == "human":
            used = value.count(IMAGE_TAG)
            value = expand_image_tags(value, counts[:used])
            del counts[:used]
        out.append((role, ROLE_HEADERS[role] + value + "<|im_end|>\n"))
    return out


def training_text(system: str, pairs: list[tuple[str, str]], counts: Sequence[int]) -> str:
    """The whole training string (spec §4.2), ending with "\\n" after the last `<|im_end|>`."""
    return "".join(text for _, text in turn_strings(system, pairs, counts))


def bos_ids(tokenizer) -> list[int]:
    """What the tokenizer adds in front of a text (reference: BOS only if `add_bos_token`)."""
    return list(tokenizer.encode("", add_special_tokens=True))


def encode(tokenizer, system: str, pairs: list[tuple[str, str]], counts: Sequence[int]
           ) -> tuple[list[int], list[int]]:
    """Ids and labels of spec §5 rules 3-6 (segment-wise tokenization)."""
    ignore_len = len(tokenizer.encode(ROLE_HEADERS["gpt"], add_special_tokens=False))
    ids = bos_ids(tokenizer)
    labels = [IGNORE_INDEX] * len(ids)
    for role, text in turn_strings(system, pairs, counts):
        seg = list(tokenizer.encode(text, add_special_tokens=False))
        ids += seg
        if role == "gpt":
            labels += [IGNORE_INDEX] * ignore_len + seg[ignore_len:-1] + [IGNORE_INDEX]
        else:
            labels += [IGNORE_INDEX] * len(seg)
    return ids, labels
