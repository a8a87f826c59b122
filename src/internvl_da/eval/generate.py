"""Greedy answers from a native InternVL, with the reference `model.chat` prompt.

Spec evaluation.md §2.2–2.3: `<image>\\n` prepended when the question has no tag, the
checkpoint's template and system message, image tokens expanded to 256·tiles (tokens_per_tile
for the tiny model), stop at the template's separator, `.strip()` the response; greedy,
min_new_tokens 1. Batch size 1 here; the batched, sharded, resumable runner builds on it.
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


@torch.no_grad()
def answer(model, tokenizer, settings: GenerationSettings, question: str,
           image_path: str | None = None) -> str:
    """The model's stripped answer to one question about one image (or none)."""
    pixel_values, counts = None, []
    if image_path is not None:
        image = load_image(image_path)
        max_num = settings.max_num if settings.dynamic else 1
        pixel_values = image_to_pixel_values(image, max_num, settings.image_size)
        pixel_values = pixel_values.to(model.dtype)
        counts = [settings.tokens_per_tile * pixel_values.shape[0]]
    ids = encode_generation_prompt(tokenizer, settings.template, question, counts)
    stop = tokenizer.convert_tokens_to_ids(get_template(settings.template).stop_token)
    output = model.generate(
        input_ids=torch.tensor([ids], device=model.device), pixel_values=pixel_values,
        max_new_tokens=settings.max_new_tokens, min_new_tokens=1, do_sample=False,
        num_beams=1, eos_token_id=stop, pad_token_id=tokenizer.pad_token_id)
    new = output[0, len(ids):].tolist()
    if stop in new:
        new = new[: new.index(stop)]
    return tokenizer.decode(new, skip_special_tokens=False).strip()
