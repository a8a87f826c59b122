"""Token ids a conversion relies on, read from the ORIGINAL tokenizer files and checked.

No `AutoTokenizer` on an original folder: InternVL2-2B's tokenizer_config.json points at remote
code, and under transformers 5 the remote-code path renumbers the added tokens (issue 9, item
1). The ids come from `load_original_tokenizer` (model/original_tokenizer.py: the hub files read
as the transformers-4.37.2 slow tokenizers read them). Folders without original tokenizer files
(the tiny in-process checkpoints: tokenizer.json only) use their transformers tokenizer.
A plain-transformers tokenizer is written into the native folder only when it gives the original
ids on every string of CHECK_TEXTS (runs of spaces, newlines after special tokens, Chinese,
digits, grounding tags): otherwise it would train or decode on other ids (issue 9, item 5).
"""

from __future__ import annotations

from pathlib import Path

from internvl_da.data.tokens import INTERNVL_SPECIAL_TOKENS

CHAT_TOKENS = {"Hermes-2": ("<|im_start|>", "<|im_end|>"),
               "internlm2-chat": ("<|im_start|>", "<|im_end|>"),
               "phi3-chat": ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
               "internvl2_5": ("<|im_start|>", "<|im_end|>")}
BOS_TEMPLATES = frozenset({"internlm2-chat", "phi3-chat"})  # samples start with <s>
CHECK_TEXTS = (
    "<|im_start|>user\n<img><IMG_CONTEXT><IMG_CONTEXT></img>\nWhat is it?<|im_end|>\n",
    "<|user|>\n<img><IMG_CONTEXT></img>\nWhat now?<|end|>\n<|assistant|>\n",
    "Answer:\n  - near\n  - far\n\n", "  leading and trailing  ", "two  spaces   three",
    "中文测试：前方有一辆车。", "12345 67.89 0m2",
    "<ref>the car</ref><box>[[12, 340, 560, 999]]</box>",
    "<c1,CAM_FRONT,1088.3,497.5> is moving.\n", "\n\nnewlines\n",
)


def has_original_tokenizer(folder: str | Path) -> bool:
    """True for hub-layout tokenizer files: `tokenizer.model` (SentencePiece) or BPE files."""
    folder = Path(folder)
    return (folder / "tokenizer.model").is_file() or (
        (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file())


def load_source_tokenizer(folder: str | Path):
    """The original tokenizer of a checkpoint folder, never running its remote code."""
    if has_original_tokenizer(folder):
        from internvl_da.model.original_tokenizer import load_original_tokenizer

        return load_original_tokenizer(folder)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, trust_remote_code=False)


def _token_id(tokenizer, token: str, source: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or token_id == getattr(tokenizer, "unk_token_id", None) or \
            tokenizer.convert_ids_to_tokens(token_id) != token:
        raise ValueError(f"{source}: the tokenizer has no {token} token")
    return int(token_id)


def checked_token_ids(tokenizer, original: dict, template: str, source: str) -> dict[str, int]:
    """{token: id} for the InternVL tokens, the template's chat tokens and BOS, all checked
    against the original config (inside llm_config.vocab_size, distinct, BOS as configured)."""
    llm = original["llm_config"]
    vocab = llm["vocab_size"]
    ids = {t: _token_id(tokenizer, t, source) for t in (*INTERNVL_SPECIAL_TOKENS,
                                                        *CHAT_TOKENS[template])}
    if template in BOS_TEMPLATES:  # Hermes-2 / internvl2_5 (Qwen): no BOS
        bos = tokenizer.bos_token_id
        if bos is None:
            raise ValueError(f"{source}: template {template} starts with BOS, the tokenizer "
                             "has no bos token")
        if llm.get("bos_token_id") is not None and bos != llm["bos_token_id"]:
            raise ValueError(f"{source}: tokenizer BOS id {bos} != config.json "
                             f"llm_config.bos_token_id {llm['bos_token_id']}")
        ids[tokenizer.convert_ids_to_tokens(bos)] = int(bos)
    outside = {t: i for t, i in ids.items() if not 0 <= i < vocab}
    if outside:
        raise ValueError(f"{source}: token ids {outside} outside config.json "
                         f"llm_config.vocab_size {vocab}")
    if len(set(ids.values())) != len(ids):
        raise ValueError(f"{source}: tokens share ids: {ids}")
    return ids


def exact_transformers_tokenizer(folder: str | Path, original) -> tuple[object | None, str]:
    """(transformers tokenizer, "") when it encodes CHECK_TEXTS exactly as `original`, else
    (None, the reason). Never runs remote code."""
    from transformers import AutoTokenizer

    try:
        hf = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except (ValueError, OSError, TypeError, KeyError) as err:
        return None, f"transformers cannot load it without remote code ({type(err).__name__})"
    for text in CHECK_TEXTS:
        if hf(text)["input_ids"] != original.encode(text):
            return None, f"transformers tokenizes {text!r} differently from the original"
    return hf, ""
