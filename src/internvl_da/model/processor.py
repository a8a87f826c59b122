"""Processor settings and chat template written next to converted checkpoints.

The GotOcr2 image processor's class defaults (384 px, CLIP mean/std, no cropping) are wrong for
InternVL2; every value is set explicitly (spec training.md §18.8). The chat template renders
the checkpoint's training template (InternVL2: no newline after the separator; internvl2_5:
`<|im_end|>\\n`), not the native ChatML one, with that template's own system message
(`Template.system_block`: InternVL3.5's is not InternVL2's, spec internvl35.md §4.1) unless the
first message is a system message, which replaces it (as `preprocess_internvl2_5` does, §5).
BOS only for the templates whose samples start with it (`convert_tokens.BOS_TEMPLATES`).
"""

from __future__ import annotations

from pathlib import Path

from internvl_da.data.templates import get_template
from internvl_da.data.tiling import MEAN, STD
from internvl_da.model.convert_tokens import BOS_TEMPLATES

# How a list-of-items message content renders an image: the native InternVLProcessor expands
# `<IMG_CONTEXT>` (the tokenizer's context_image_token) into `<img>` + N x `<IMG_CONTEXT>` +
# `</img>`, as the `-HF` checkpoints' own template does (spec internvl35.md §4.3).
IMAGE_ITEM = "<IMG_CONTEXT>\n"


def save_image_processor(dst: str | Path, size: int = 448, max_patches: int = 12) -> None:
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import (
        GotOcr2ImageProcessorPil,
    )

    GotOcr2ImageProcessorPil(
        size={"height": size, "width": size}, crop_to_patches=True, min_patches=1,
        max_patches=max_patches, image_mean=list(MEAN), image_std=list(STD), do_rescale=True,
        rescale_factor=1 / 255, do_normalize=True, do_convert_rgb=True,
    ).save_pretrained(dst)


def chat_template(template: str) -> str:
    """A Jinja chat template equal to the training template for system/user/assistant turns.

    Message content is a string or a list of {"type": "image"} / {"type": "text", "text"}
    items (images as IMAGE_ITEM). A first `system` message replaces the template's system
    message; without one the template's own is used (InternVL3.5's also turns thinking off).
    """
    tpl = get_template(template)
    before, after = tpl.system_template.split("{system_message}")
    content = ("{% if m['content'] is string %}{{ m['content'] }}{% else %}"
               "{% for item in m['content'] %}{% if item['type'] == 'image' %}"
               "{{ '" + _escape(IMAGE_ITEM) + "' }}{% elif item['type'] == 'text' %}"
               "{{ item['text'] }}{% endif %}{% endfor %}{% endif %}")
    bos = "{{ bos_token or '' }}" if tpl.name in BOS_TEMPLATES else ""
    return (
        bos
        + "{% if messages and messages[0]['role'] == 'system' %}"
        "{% set system = messages[0]['content'] %}{% set turns = messages[1:] %}"
        "{% else %}{% set system = '" + _escape(tpl.system_message) + "' %}"
        "{% set turns = messages %}{% endif %}"
        "{{ '" + _escape(before) + "' + system + '" + _escape(after + tpl.sep) + "' }}"
        "{% for m in turns %}{% if m['role'] == 'user' %}{{ '" + _escape(tpl.user) + "' }}"
        "{% elif m['role'] == 'assistant' %}{{ '" + _escape(tpl.assistant) + "' }}"
        "{% else %}{{ raise_exception('unsupported role ' + m['role']) }}{% endif %}"
        + content + "{{ '" + _escape(tpl.sep) + "' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '" + _escape(tpl.assistant) + "' }}{% endif %}"
    )


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
