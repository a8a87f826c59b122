"""Loading native InternVL checkpoints: dtype, attention implementation, sanity checks.

Never `trust_remote_code`. flash_attention_2 only when CUDA and flash-attn are present
(stack-notes §10), else sdpa; bf16 on CUDA, float32 on CPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from internvl_da.data.tokens import IMG_CONTEXT


def attention_implementation() -> str:
    from transformers.utils import is_flash_attn_2_available

    if torch.cuda.is_available() and is_flash_attn_2_available():
        return "flash_attention_2"
    return "sdpa"


def default_dtype() -> torch.dtype:
    return torch.bfloat16 if torch.cuda.is_available() else torch.float32


def inference_device() -> torch.device:
    """cuda:LOCAL_RANK (one GPU per torchrun rank) when CUDA exists, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def check_native_checkpoint(path: str | Path) -> dict:
    """The checkpoint's config; a clear error for anything but a native InternVL folder."""
    config_path = Path(path) / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{path}: no config.json (not a checkpoint folder)")
    config = json.loads(config_path.read_text())
    if config.get("model_type") != "internvl":
        archs = config.get("architectures") or [config.get("model_type")]
        hint = " (an original InternVL2 checkpoint: run `internvl-da convert SRC DST` first)" \
            if "InternVLChatModel" in archs else ""
        raise ValueError(f"{path}: not a native InternVL checkpoint, found {archs}{hint}")
    return config


def check_tokenizer(tokenizer, source: str = "tokenizer") -> int:
    """The `<IMG_CONTEXT>` id; an error if the tokenizer lacks it."""
    token_id = tokenizer.convert_tokens_to_ids(IMG_CONTEXT)
    if token_id is None or token_id == tokenizer.unk_token_id or \
            tokenizer.convert_ids_to_tokens(token_id) != IMG_CONTEXT:
        raise ValueError(f"{source}: has no {IMG_CONTEXT} token; not an InternVL tokenizer")
    return int(token_id)


def load_tokenizer(path: str | Path):
    """The tokenizer of a native folder: the ORIGINAL tokenizer (model/original_tokenizer.py,
    the ids the checkpoint was trained with) when the folder keeps the original files in
    `internvl_original/` (converted checkpoints and their fine-tunes), else the folder's
    transformers tokenizer (tiny in-process checkpoints). Never remote code."""
    from internvl_da.model.convert import ORIGINAL_DIR
    from internvl_da.model.convert_tokens import has_original_tokenizer

    kept = Path(path) / ORIGINAL_DIR
    if has_original_tokenizer(kept):
        from internvl_da.model.original_tokenizer import load_original_tokenizer

        return load_original_tokenizer(kept)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, trust_remote_code=False)


def load_native(path: str | Path, dtype: torch.dtype | None = None):
    """(model, tokenizer) from a native checkpoint folder (tokenizer: `load_tokenizer`)."""
    from transformers import InternVLForConditionalGeneration

    check_native_checkpoint(path)
    tokenizer = load_tokenizer(path)
    image_token = check_tokenizer(tokenizer, str(path))
    model = InternVLForConditionalGeneration.from_pretrained(
        path, dtype=dtype or default_dtype(), attn_implementation=attention_implementation(),
        trust_remote_code=False)
    if model.config.image_token_id != image_token:
        raise ValueError(f"{path}: config image_token_id {model.config.image_token_id} != "
                         f"tokenizer {IMG_CONTEXT} id {image_token}")
    return model, tokenizer
