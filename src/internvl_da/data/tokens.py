"""InternVL special tokens and label constants (reference `internvl/train/constants.py`)."""

from __future__ import annotations

IMAGE_TAG = "<image>"  # placeholder in conversation text, replaced before tokenization
IMG_START = "<img>"
IMG_END = "</img>"
IMG_CONTEXT = "<IMG_CONTEXT>"
QUAD_START, QUAD_END = "<quad>", "</quad>"
REF_START, REF_END = "<ref>", "</ref>"
BOX_START, BOX_END = "<box>", "</box>"

# The tokens the reference adds with add_tokens(..., special_tokens=True), in its order.
INTERNVL_SPECIAL_TOKENS = (
    IMG_START, IMG_END, IMG_CONTEXT, QUAD_START, QUAD_END, REF_START, REF_END, BOX_START, BOX_END,
)

IGNORE_INDEX = -100  # label of positions that carry no loss
TOKENS_PER_TILE = 256  # (448 / 14)^2 * 0.5^2 for the real models; the tiny model uses fewer


def expand_image_tags(text: str, image_token_counts) -> str:
    """Replace the first remaining `<image>` by `<img>` + `<IMG_CONTEXT>` x count + `</img>`,
    once per count, in order (reference: `query.replace('<image>', image_tokens, 1)`)."""
    for count in image_token_counts:
        text = text.replace(IMAGE_TAG, IMG_START + IMG_CONTEXT * count + IMG_END, 1)
    return text
