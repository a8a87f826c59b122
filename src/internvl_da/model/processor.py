"""Processor settings and chat template written next to converted checkpoints.

The GotOcr2 image processor's class defaults (384 px, CLIP mean/std, no cropping) are wrong for
InternVL2; every value is set explicitly (spec training.md §18.8). The chat template renders
the checkpoint's training template (no newline after the separator), not the native ChatML one.
"""

from __future__ import annotations

from pathlib import Path

from internvl_da.data.templates import SYSTEM_MESSAGE, get_template
from internvl_da.data.tiling import MEAN, STD


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
    """A Jinja chat template equal to the training template for user/assistant turns."""
    tpl = get_template(template)
    system = tpl.system_template.format(system_message=SYSTEM_MESSAGE)
    return (
        "{{ bos_token if bos_token and '" + tpl.name + "' != 'Hermes-2' else '' }}"
        "{{ '" + _escape(system + tpl.sep) + "' }}"
        "{% for m in messages %}{% if m['role'] == 'user' %}"
        "{{ '" + _escape(tpl.user) + "' + m['content'] + '" + _escape(tpl.sep) + "' }}"
        "{% else %}{{ '" + _escape(tpl.assistant) + "' + m['content'] + '"
        + _escape(tpl.sep) + "' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '" + _escape(tpl.assistant) + "' }}{% endif %}"
    )


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
