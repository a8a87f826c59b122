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
