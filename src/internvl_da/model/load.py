"""Loading native InternVL checkpoints: dtype, attention implementation, sanity checks.

Never `trust_remote_code`. flash_attention_2 only when CUDA and flash-attn are present
(stack-notes §10), else sdpa; bf16 on CUDA, float32 on CPU. Weights are safetensors only (a
pickle `pytorch_model.bin` can run code when loaded); a truncated or missing weight file, and a
tensor the checkpoint lacks, renames or shapes differently, is an error naming it: transformers
would initialise it at random and only print a load report (issue 11 item 3).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import torch

from internvl_da.data.tokens import IMG_CONTEXT

SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "model.pth")


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
        raise FileNotFoundError(f"{path}: no config.json (not a checkpoint folder)"
                                + _hub_id_hint(str(path)))
    config = json.loads(config_path.read_text())
    if config.get("model_type") != "internvl":
        archs = config.get("architectures") or [config.get("model_type")]
        hint = _original_hint(config) if "InternVLChatModel" in archs else ""
        raise ValueError(f"{path}: not a native InternVL checkpoint, found {archs}{hint}")
    return config


def _hub_id_hint(path: str) -> str:
    """A hub id given as a folder: InternVL3.5's `-HF` checkpoints are native (spec
    internvl35.md §2), so they are downloaded, never converted."""
    if "InternVL3_5" in path and not Path(path).exists():
        return ("; an InternVL3.5 hub id is downloaded, not loaded by name: the `-HF` "
                "checkpoints are already native, fetch one with `hub.fetch_native` (the "
                "pipeline's base-model stage) and pass its folder")
    return ""


def _original_hint(config: dict) -> str:
    """What to do with an original-layout folder: InternVL3.5 (Qwen3 LLM) has a native `-HF`
    twin on the hub; InternVL2 has none, so it is converted."""
    llm = (config.get("llm_config") or {}).get("architectures") or []
    if "Qwen3ForCausalLM" in llm:
        return (" (an original-layout InternVL3.5 checkpoint: use its native `-HF` twin, e.g. "
                "OpenGVLab/InternVL3_5-1B-HF; one trained with InternVL's own code goes "
                "through `internvl-da convert SRC DST`)")
    return " (an original InternVL2 checkpoint: run `internvl-da convert SRC DST` first)"


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


def _check_safetensors_file(path: Path) -> None:
    """The header parses and the file is as long as the header says (a write stopped by a kill
    or a full disk leaves it shorter)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ValueError(f"{path}: truncated safetensors file ({size} bytes)")
        (length,) = struct.unpack("<Q", head)
        if length > size - 8:
            raise ValueError(f"{path}: truncated safetensors file (header of {length} bytes, "
                             f"file of {size})")
        try:
            header = json.loads(handle.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"{path}: not a safetensors file (unreadable header)") from None
    try:
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"),
                  default=0)
    except (KeyError, TypeError, IndexError, ValueError, AttributeError):
        raise ValueError(f"{path}: not a safetensors file (malformed header)") from None
    if size != 8 + length + end:
        raise ValueError(f"{path}: incomplete safetensors file: {size} bytes, the header "
                         f"describes {8 + length + end} (interrupted write?)")


def weight_files(path: str | Path) -> list[Path]:
    """The checkpoint's safetensors files, each checked complete; pickle weights are refused."""
    path = Path(path)
    index = path / SAFETENSORS_INDEX
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise ValueError(f"{index}: invalid safetensors index (no weight_map)") from None
        files = [path / name for name in shards]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{path}: {len(missing)} weight file(s) named in "
                                    f"{SAFETENSORS_INDEX} are missing: {missing[:5]}")
    elif (path / "model.safetensors").is_file():
        files = [path / "model.safetensors"]
    else:
        pickles = [name for name in PICKLE_WEIGHTS if (path / name).is_file()]
        if pickles:
            raise ValueError(f"{path}: pickle weights {pickles} refused: internvl-da loads "
                             "safetensors only (a pickle can run code when loaded); re-save "
                             "with save_pretrained(safe_serialization=True)")
        raise FileNotFoundError(f"{path}: no model.safetensors or {SAFETENSORS_INDEX}")
    for file in files:
        _check_safetensors_file(file)
    return files


def weights_fingerprint(model: torch.nn.Module) -> str:
    """sha256 over the state dict as it is in memory (names, dtypes, shapes, bytes): what a
    model is, however it was built or loaded (eval.resume compares it)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}\0{flat.dtype}\0{tuple(tensor.shape)}\n".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def check_loading_info(path: str | Path, info: dict) -> None:
    """An error naming every tensor transformers could not load as saved (its report only
    warns, and fills missing tensors at random)."""
    problems = []
    for kind, label in (("missing_keys", "missing"), ("unexpected_keys", "unexpected (renamed "
                        "or from another architecture)"), ("mismatched_keys", "wrong shape")):
        keys = sorted(k[0] if isinstance(k, tuple) else k for k in info.get(kind) or ())
        if keys:
            shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
            problems.append(f"{label}: {shown}")
    problems += [str(msg) for msg in info.get("error_msgs") or ()]
    if problems:
        raise ValueError(f"{path}: checkpoint does not match the model; " + "; ".join(problems))


def check_complete(path: str | Path) -> None:
    """A Trainer `checkpoint-N` folder counts only with the completion marker train writes last
    (train.checkpoints, issue 11 item 7): without it the run stopped while writing it."""
    from internvl_da.train.checkpoints import MARKER, PREFIX, step_of

    path = Path(path)
    if path.name.startswith(PREFIX) and step_of(path) is not None and \
            not (path / MARKER).is_file():
        raise ValueError(f"{path}: incomplete checkpoint (no {MARKER}: the run stopped while "
                         "writing it); evaluate a complete checkpoint or the run's final/")


def load_native(path: str | Path, dtype: torch.dtype | None = None):
    """(model, tokenizer) from a native checkpoint folder (tokenizer: `load_tokenizer`); every
    weight loaded as saved, from safetensors, or an error (`check_complete`, `weight_files`,
    `check_loading_info`)."""
    from transformers import InternVLForConditionalGeneration

    check_native_checkpoint(path)
    check_complete(path)
    weight_files(path)
    tokenizer = load_tokenizer(path)
    image_token = check_tokenizer(tokenizer, str(path))
    # ignore_mismatched_sizes=True only so that a shape mismatch reaches check_loading_info,
    # which names it, instead of transformers' bare RuntimeError.
    model, info = InternVLForConditionalGeneration.from_pretrained(
        path, dtype=dtype or default_dtype(), attn_implementation=attention_implementation(),
        trust_remote_code=False, use_safetensors=True, output_loading_info=True,
        ignore_mismatched_sizes=True)
    check_loading_info(path, info)
    if model.config.image_token_id != image_token:
        raise ValueError(f"{path}: config image_token_id {model.config.image_token_id} != "
                         f"tokenizer {IMG_CONTEXT} id {image_token}")
    return model, tokenizer
