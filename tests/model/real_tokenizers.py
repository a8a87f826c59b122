"""Write the real InternVL2-1B/2B/4B tokenizer folders, laid out as the hub ships them.

Shared by the tokenizer tests and the converter tests (real-config checkpoints). Files come
from tests/assets/real/ (see its PROVENANCE.md); the 2B and 4B `tokenizer_config.json` are built
here from the published values recorded there:
- 2B: internlm2-chat-1_8b's config (remote-code `auto_map`, chat tokens 92538-92543, all flags
  false) plus the nine InternVL tokens at 92544-92552 as the reference's
  `add_tokens(..., special_tokens=True)` + `save_pretrained` writes them (special, not
  normalized, listed in `additional_special_tokens`, as the real 1B file shows).
- 4B: Phi-3-mini-128k-instruct's config (`legacy: false`; `</s>` rstrip=True special=False;
  32000 `<|endoftext|>` rstrip=False; 32001-32010 rstrip=True) plus the nine InternVL tokens
  at 32011-32019, written the same way.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "real"
INTERNVL_TOKENS = ("<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>",
                   "<box>", "</box>")
INTERNLM2_CHAT_TOKENS = ("<|plugin|>", "<|interpreter|>", "<|action_end|>", "<|action_start|>",
                         "<|im_end|>", "<|im_start|>")  # ids 92538..92543
PHI3_TOKENS = ("<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>",
               "<|placeholder3|>", "<|placeholder4|>", "<|system|>", "<|end|>",
               "<|placeholder5|>", "<|placeholder6|>", "<|user|>")  # ids 32000..32010


def _added(content: str, *, rstrip: bool = False, special: bool = True) -> dict:
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": rstrip,
            "single_word": False, "special": special}


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_tokenizer_1b(folder: str | Path) -> Path:
    """The real InternVL2-1B files (Qwen2Tokenizer: vocab.json + merges.txt, no tokenizer.json)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for src in sorted((ASSETS / "internvl2-1b").iterdir()):
        shutil.copyfile(src, folder / src.name)
    return folder


def internlm2_tokenizer_config() -> dict:
    """InternVL2-2B `tokenizer_config.json`: internlm2-chat-1_8b's plus the InternVL tokens."""
    decoder = {"0": _added("<unk>"), "1": _added("<s>"), "2": _added("</s>")}
    for i, token in enumerate(INTERNLM2_CHAT_TOKENS):
        decoder[str(92538 + i)] = _added(token)
    for i, token in enumerate(INTERNVL_TOKENS):
        decoder[str(92544 + i)] = _added(token)
    return {
        "added_tokens_decoder": decoder,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|action_start|>",
                                      "<|action_end|>", "<|interpreter|>", "<|plugin|>",
                                      *INTERNVL_TOKENS],
        "auto_map": {"AutoTokenizer": ["tokenization_internlm2.InternLM2Tokenizer",
                                       "tokenization_internlm2_fast.InternLM2TokenizerFast"]},
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "decode_with_prefix_space": False,
        "eos_token": "</s>",
        "model_max_length": 8192,
        "pad_token": "</s>",
        "sp_model_kwargs": None,
        "tokenizer_class": "InternLM2Tokenizer",
        "unk_token": "<unk>",
    }


def write_tokenizer_2b(folder: str | Path) -> Path:
    """InternVL2-2B: InternLM2 `tokenizer.model` + remote-code config, as on the hub."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ASSETS / "sentencepiece" / "internlm2.model", folder / "tokenizer.model")
    config = internlm2_tokenizer_config()
    _write_json(folder / "tokenizer_config.json", config)
    _write_json(folder / "special_tokens_map.json", {
        "additional_special_tokens": config["additional_special_tokens"],
        "bos_token": _strip_special(_added("<s>")), "eos_token": _strip_special(_added("</s>")),
        "pad_token": _strip_special(_added("</s>")), "unk_token": _strip_special(_added("<unk>"))})
    _write_json(folder / "added_tokens.json",
                {token: 92544 + i for i, token in enumerate(INTERNVL_TOKENS)})
    return folder


def phi3_tokenizer_config() -> dict:
    """InternVL2-4B `tokenizer_config.json`: Phi-3-mini-128k-instruct's plus the InternVL tokens."""
    decoder = {"0": _added("<unk>"), "1": _added("<s>"),
               "2": _added("</s>", rstrip=True, special=False)}
    for i, token in enumerate(PHI3_TOKENS):
        decoder[str(32000 + i)] = _added(token, rstrip=i > 0)
    for i, token in enumerate(INTERNVL_TOKENS):
        decoder[str(32011 + i)] = _added(token)
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": list(INTERNVL_TOKENS),
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>",
        "legacy": False,
        "model_max_length": 8192,
        "pad_token": "<|endoftext|>",
        "padding_side": "right",
        "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }


def write_tokenizer_4b(folder: str | Path) -> Path:
    """InternVL2-4B: Llama-2 `tokenizer.model` with Phi-3's and InternVL's added tokens."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ASSETS / "sentencepiece" / "llama2.model", folder / "tokenizer.model")
    config = phi3_tokenizer_config()
    _write_json(folder / "tokenizer_config.json", config)
    _write_json(folder / "special_tokens_map.json", {
        "additional_special_tokens": config["additional_special_tokens"],
        "bos_token": _strip_special(_added("<s>")),
        "eos_token": _strip_special(_added("<|endoftext|>")),
        "pad_token": _strip_special(_added("<|endoftext|>")),
        "unk_token": _strip_special(_added("<unk>"))})
    tokens = {token: 32000 + i for i, token in enumerate(PHI3_TOKENS)}
    tokens.update({token: 32011 + i for i, token in enumerate(INTERNVL_TOKENS)})
    _write_json(folder / "added_tokens.json", tokens)
    return folder


def _strip_special(token: dict) -> dict:
    """special_tokens_map.json entries carry no `special` key."""
    return {k: v for k, v in token.items() if k != "special"}


REAL_TOKENIZER_WRITERS: dict[str, Callable[[str | Path], Path]] = {
    "1b": write_tokenizer_1b, "2b": write_tokenizer_2b, "4b": write_tokenizer_4b,
}
REAL_TEMPLATES = {"1b": "Hermes-2", "2b": "internlm2-chat", "4b": "phi3-chat"}


def write_real_tokenizer(size: str, folder: str | Path) -> Path:
    """Write the hub-layout tokenizer files of `size` ("1b", "2b", "4b") into `folder`."""
    try:
        return REAL_TOKENIZER_WRITERS[size](folder)
    except KeyError:
        raise ValueError(f"unknown size {size!r}; choose from {sorted(REAL_TOKENIZER_WRITERS)}"
                         ) from None
