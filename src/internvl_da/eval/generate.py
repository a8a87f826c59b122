"""Greedy answers from a native InternVL, with the reference `model.chat` prompt.

Spec evaluation.md §2.2–2.3: `<image>\\n` prepended when the question has no tag, the
checkpoint's template and system message, image tokens expanded to 256·tiles (tokens_per_tile
for the tiny model), stop at the template's separator; greedy, min_new_tokens 1. The response is
decoded as the reference `model.chat` does (`decode_response`). The batched, sharded, resumable
runner builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from internvl_da.data.templates import encode_generation_prompt, get_template
from internvl_da.data.tiling import image_to_pixel_values, load_image


@dataclass(frozen=True)
class GenerationSettings:
    template: str
    image_size: int = 448
    tokens_per_tile: int = 256
    max_num: int = 12
    dynamic: bool = True
    max_new_tokens: int = 50


def prompt_inputs(tokenizer, settings: GenerationSettings, question: str,
                  image_path: str | None) -> tuple[list[int], torch.Tensor | None]:
    """Prompt ids and tiles (T, 3, S, S) of one question, as `model.chat` builds them."""
    if image_path is None:
        return encode_generation_prompt(tokenizer, settings.template, question, []), None
    max_num = settings.max_num if settings.dynamic else 1
    pixels = image_to_pixel_values(load_image(image_path), max_num, settings.image_size)
    counts = [settings.tokens_per_tile * pixels.shape[0]]
    return encode_generation_prompt(tokenizer, settings.template, question, counts), pixels


@torch.no_grad()
def generate_ids(model, tokenizer, settings: GenerationSettings, questions: list[str],
                 image_paths: list[str | None]) -> list[list[int]]:
    """New token ids per question, cut at the stop token; one left-padded batch."""
    prompts, tiles = [], []
    for question, path in zip(questions, image_paths, strict=True):
        ids, pixels = prompt_inputs(tokenizer, settings, question, path)
        prompts.append(ids)
        if pixels is not None:
            tiles.append(pixels)
    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=model.device)
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts],
                                  device=model.device)
    # generate() encodes images whenever the key is present, even as None: pass it only if any.
    images = ({"pixel_values": torch.cat(tiles).to(model.device, model.dtype)}  # prompt order
              if tiles else {})
    stop = tokenizer.convert_tokens_to_ids(get_template(settings.template).stop_token)
    output = model.generate(
        input_ids=input_ids, attention_mask=attention_mask, **images,
        max_new_tokens=settings.max_new_tokens, min_new_tokens=1, do_sample=False, num_beams=1,
        eos_token_id=stop, pad_token_id=pad)
    rows = []
    for row in output[:, width:].tolist():
        rows.append(row[: row.index(stop)] if stop in row else row)
    return rows


# Templates whose reference `chat()` decodes WITHOUT skipping special tokens: InternVL3.5's
# (`internvl_chat_gpt_oss/.../modeling_internvl_chat.py`, spec internvl35.md §9.1 step 5).
KEEP_SPECIAL_TEMPLATES = frozenset({"internvl2_5"})


def decode_response(tokenizer, ids: list[int], template: str) -> str:
    """The reference `model.chat` response: `batch_decode(ids, skip_special_tokens=...)`, then
    `response.split(template.sep.strip())[0].strip()` (evaluation.md §2.2 step 5).

    InternVL2: special tokens are dropped, not kept: for the real checkpoints that includes
    `<ref>`, `<box>` and their closing tags (added as special), so a DIOR-RSVG answer reads
    `the car[[1, 2, 3, 4]]` exactly as the reference scorer saw it. InternVL3.5
    (KEEP_SPECIAL_TEMPLATES): kept, as its `chat()` does; `<think>` / `</think>` are plain
    added tokens of Qwen3 and survive either way (eval.thinking counts them).
    """
    keep = template in KEEP_SPECIAL_TEMPLATES
    text = tokenizer.decode(ids, skip_special_tokens=not keep)
    return text.split(get_template(template).stop_token)[0].strip()


def answer_batch(model, tokenizer, settings: GenerationSettings, questions: list[str],
                 image_paths: list[str | None]) -> list[str]:
    """Answers for a batch, decoded as the reference `model.chat` (`decode_response`)."""
    return [decode_response(tokenizer, ids, settings.template)
            for ids in generate_ids(model, tokenizer, settings, questions, image_paths)]


def answer(model, tokenizer, settings: GenerationSettings, question: str,
           image_path: str | None = None) -> str:
    """The model's stripped answer to one question about one image (or none)."""
    return answer_batch(model, tokenizer, settings, [question], [image_path])[0]
