"""The original InternVL2 tokenizers, id for id, from the hub files alone (no remote code).

The released models were trained with transformers 4.37.2 SLOW tokenizers (training.md §11,
§22): 1B `Qwen2Tokenizer`, 2B the remote `InternLM2Tokenizer`, 4B `LlamaTokenizer(legacy=False)`,
all loaded with `add_eos_token=False`. transformers 5 tokenizes differently (runs of spaces,
the `▁` after BOS, newline swallowing of rstrip tokens), so the project encodes with this class,
which reproduces 4.37.2's `PreTrainedTokenizer.tokenize` exactly:
1. split the text on every added token (leftmost-longest, as its trie);
2. per added token, `rstrip` strips the whitespace starting the NEXT chunk, `lstrip` the
   whitespace ending the PREVIOUS chunk, `single_word` glues the token to a neighbour;
3. each remaining chunk goes to the family's chunk encoder (original_backends.py);
4. Llama non-legacy prefixes the whole text with `▁` and drops it before a special token.
Added tokens and their flags come from `tokenizer_config.json`'s `added_tokens_decoder` (4.37
then ignores added_tokens.json / special_tokens_map.json), else from those legacy files.
Every token carries its character span in the prepared text (NFC for Qwen2), which is how
data/templates.py places labels on the whole-string ids. Proven against 4.37.2 itself by
tools/tokenizer_parity.py (ids and decode on a corpus of tricky strings).
"""

from __future__ import annotations

import json
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import regex

from internvl_da.data.tokens import IMG_CONTEXT, IMG_END, IMG_START
from internvl_da.model.original_backends import (
    SPIECE_UNDERLINE,
    BPEBackend,
    SentencePieceBackend,
    Spans,
)

ORIGINAL_TOKENIZER_FILES: tuple[str, ...] = (
    "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "tokenizer.model",
    "vocab.json", "merges.txt",
)
FAMILIES = {"Qwen2Tokenizer": "qwen2", "InternLM2Tokenizer": "internlm2",
            "LlamaTokenizer": "llama"}
# Class defaults of the 4.37 slow classes / remote code when the config omits a key.
DEFAULT_SPECIALS = {
    "qwen2": {"unk_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
              "pad_token": "<|endoftext|>"},
    "internlm2": {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>",
                  "pad_token": "</s>"},
    "llama": {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"},
}
SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                "mask_token")


@dataclass(frozen=True)
class AddedToken:
    content: str
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False
    special: bool = True


def _content(value) -> str | None:
    return value.get("content") if isinstance(value, dict) else value


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: line {err.lineno}: not valid JSON ({err.msg})") from None


def _family(folder: Path, config: dict) -> str:
    name = str(config.get("tokenizer_class") or "").removesuffix("Fast")
    if not name and "tokenization_internlm2" in json.dumps(config.get("auto_map", {})):
        name = "InternLM2Tokenizer"
    if name not in FAMILIES:
        raise ValueError(f"{folder}: unknown tokenizer family {name or '(no tokenizer_class)'!r};"
                         f" supported: {sorted(FAMILIES)}")
    return FAMILIES[name]


def _require(folder: Path, *names: str) -> list[Path]:
    paths = [folder / n for n in names]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: missing original tokenizer file {path.name}")
    return paths


def load_original_tokenizer(folder: str | Path) -> OriginalTokenizer:
    """The 4.37.2 slow tokenizer of an original (or exported) InternVL2 folder."""
    folder = Path(folder)
    (config_path,) = _require(folder, "tokenizer_config.json")
    config = _read_json(config_path)
    family = _family(folder, config)
    if family == "qwen2":
        vocab, merges = _require(folder, "vocab.json", "merges.txt")
        backend = BPEBackend(vocab, merges, errors=config.get("errors", "replace"))
    else:
        (model,) = _require(folder, "tokenizer.model")
        legacy = True if family == "internlm2" else config.get("legacy") is not False
        backend = SentencePieceBackend(model, family, legacy=legacy)
    return OriginalTokenizer(folder, config, backend)


class OriginalTokenizer:
    """The subset of the HF tokenizer API the project uses, with 4.37.2 slow semantics."""

    is_fast = False

    def __init__(self, folder: Path, config: dict, backend):
        self.folder, self.config, self.backend = folder, config, backend
        self.family: str = backend.family
        specials = {**DEFAULT_SPECIALS[self.family],
                    **{k: config[k] for k in SPECIAL_KEYS if k in config}}
        added, extra = self._added_tokens(folder, config, specials)
        self.special_tokens = {k: _content(v) for k, v in specials.items() if _content(v)}
        self.additional_special_tokens = [_content(t) for t in extra]
        self.added: dict[int, AddedToken] = added
        self._register_special_tokens(specials, extra)
        self.added_tokens_encoder = {t.content: i for i, t in self.added.items()}
        self.backend.unk_token = self.special_tokens.get("unk_token")
        self.add_bos_token = self.family != "qwen2" and config.get("add_bos_token", True)
        self.add_eos_token = False  # the reference loads with add_eos_token=False
        contents = sorted(self.added_tokens_encoder, key=len, reverse=True)
        self._splitter = regex.compile("|".join(regex.escape(c) for c in contents))
        self.all_special_tokens = list(dict.fromkeys(
            [*(self.special_tokens.get(k) for k in SPECIAL_KEYS if self.special_tokens.get(k)),
             *self.additional_special_tokens]))
        self._special_set = set(self.all_special_tokens)
        self.all_special_ids = [self.convert_tokens_to_ids(t) for t in self.all_special_tokens]

    # -- loading -------------------------------------------------------------------------
    @staticmethod
    def _added_tokens(folder: Path, config: dict, specials: dict):
        """(id -> AddedToken, additional special tokens) as 4.37 `_from_pretrained` reads them."""
        extra = list(config.get("additional_special_tokens") or [])
        if "added_tokens_decoder" in config:
            added = {int(i): AddedToken(t["content"], bool(t.get("lstrip")), bool(t.get("rstrip")),
                                        bool(t.get("single_word")), bool(t.get("special")))
                     for i, t in config["added_tokens_decoder"].items()}
            return added, extra
        if (folder / "special_tokens_map.json").is_file():  # legacy files
            for key, value in _read_json(folder / "special_tokens_map.json").items():
                if key == "additional_special_tokens":
                    extra += [t for t in value if _content(t) not in map(_content, extra)]
                else:
                    specials[key] = value
        added = {}
        if (folder / "added_tokens.json").is_file():
            names = {_content(v) for v in specials.values()} | set(map(_content, extra))
            for token, index in _read_json(folder / "added_tokens.json").items():
                added[int(index)] = AddedToken(token, special=token in names)
        return added, extra

    def _register_special_tokens(self, specials: dict, extra: list) -> None:
        """Special tokens missing from the added tokens join them (4.37 `__init__` step 4)."""
        known = {t.content for t in self.added.values()}
        vocab = self._base_vocab()
        for value in [*(specials.get(k) for k in SPECIAL_KEYS), *extra]:
            content = _content(value)
            if not content or content in known:
                continue
            flags = value if isinstance(value, dict) else {}
            index = vocab.get(content, max([len(vocab) - 1, *self.added]) + 1)
            self.added[index] = AddedToken(content, bool(flags.get("lstrip")),
                                           bool(flags.get("rstrip")),
                                           bool(flags.get("single_word")), True)
            known.add(content)

    def _base_vocab(self) -> dict[str, int]:
        return {self.backend.id_to_piece(i): i for i in range(self.backend.size)}

    # -- tokenization --------------------------------------------------------------------
    def prepare(self, text: str) -> str:
        """The text 4.37 tokenizes: Qwen2 NFC-normalizes it (`prepare_for_tokenization`)."""
        return unicodedata.normalize("NFC", text) if self.family == "qwen2" else text

    def _chunks(self, text: str) -> list[list]:
        """[text, start, end] chunks split on added tokens, with the strip flags applied."""
        chunks, pos = [], 0
        for m in self._splitter.finditer(text) if self.added_tokens_encoder else ():
            if m.start() > pos:
                chunks.append([text[pos:m.start()], pos, m.start()])
            chunks.append([m.group(), m.start(), m.end()])
            pos = m.end()
        if pos < len(text):
            chunks.append([text[pos:], pos, len(text)])
        encoder = self.added_tokens_encoder
        for i, chunk in enumerate(chunks):
            if chunk[0] not in encoder:
                continue
            tok = self.added[encoder[chunk[0]]]
            left = chunks[i - 1] if i > 0 else None
            right = chunks[i + 1] if i < len(chunks) - 1 else None
            if tok.rstrip and right and right[0]:
                stripped = right[0].lstrip()
                right[1] += len(right[0]) - len(stripped)
                right[0] = stripped
            if tok.lstrip and left and left[0]:
                stripped = left[0].rstrip()
                left[2] -= len(left[0]) - len(stripped)
                left[0] = stripped
            if tok.single_word and left and left[0] and left[0][-1] != " ":
                left[0], left[2], chunk[0] = left[0] + chunk[0], chunk[2], ""
            elif tok.single_word and right and right[0] and right[0][0] != " ":
                right[0], right[1], chunk[0] = chunk[0] + right[0], chunk[1], ""
        return chunks

    def _base_tokenize(self, text: str) -> Spans:
        out: Spans = []
        for piece, start, _ in self._chunks(text):
            if not piece:
                continue
            if piece in self.added_tokens_encoder:
                out.append((piece, start, start + len(piece)))
            else:
                out += [(p, start + s, start + e) for p, s, e in self.backend.tokenize(piece)]
        return out

    def tokenize_with_spans(self, text: str) -> Spans:
        """(token, start, end) with character spans in `self.prepare(text)`."""
        text = self.prepare(text)
        if self.family != "llama" or self.backend.legacy or not text:
            return self._base_tokenize(text)
        # LlamaTokenizer(legacy=False).tokenize: `▁` + text, `▁` dropped before a special token.
        spans = self._base_tokenize(SPIECE_UNDERLINE + text.replace(SPIECE_UNDERLINE, " "))
        spans = [(p, max(s - 1, 0), max(e - 1, 0)) for p, s, e in spans]
        if len(spans) > 1 and spans[0][0] == SPIECE_UNDERLINE and spans[1][0] in self._special_set:
            spans = spans[1:]
        return spans

    def tokenize(self, text: str) -> list[str]:
        return [p for p, _, _ in self.tokenize_with_spans(text)]

    def encode_with_spans(self, text: str, add_special_tokens: bool = True
                          ) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids and their character spans in `prepare(text)`; BOS gets the empty span (0, 0)."""
        spans = self.tokenize_with_spans(text)
        ids = [self.convert_tokens_to_ids(p) for p, _, _ in spans]
        offsets = [(s, e) for _, s, e in spans]
        if add_special_tokens and self.add_bos_token and self.bos_token_id is not None:
            ids, offsets = [self.bos_token_id, *ids], [(0, 0), *offsets]
        return ids, offsets

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self.encode_with_spans(text, add_special_tokens)[0]

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict:
        ids = self.encode(text, add_special_tokens)
        return {"input_ids": ids, "attention_mask": [1] * len(ids)}

    # -- vocabulary ----------------------------------------------------------------------
    def _to_id(self, token: str | None) -> int | None:
        if token is None:
            return None
        if token in self.added_tokens_encoder:
            return self.added_tokens_encoder[token]
        return self.backend.piece_to_id(token, self.unk_token_id_raw)

    @property
    def unk_token_id_raw(self) -> int | None:
        unk = self.special_tokens.get("unk_token")
        if unk is None:
            return None
        return self.added_tokens_encoder.get(unk, self.backend.piece_to_id(unk, None))

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str) or tokens is None:
            return self._to_id(tokens)
        return [self._to_id(t) for t in tokens]

    def _to_token(self, index: int) -> str | None:
        if index in self.added:
            return self.added[index].content
        return self.backend.id_to_piece(int(index))

    def convert_ids_to_tokens(self, ids, skip_special_tokens: bool = False):
        if isinstance(ids, int):
            return self._to_token(ids)
        special = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._to_token(int(i)) for i in ids if int(i) not in special]

    def get_vocab(self) -> dict[str, int]:
        if self.family == "qwen2":
            return {**self.backend.vocab, **self.added_tokens_encoder}
        vocab = {self._to_token(i): i for i in range(self.backend.size)}
        return {**vocab, **self.added_tokens_encoder}

    def __len__(self) -> int:
        if not hasattr(self, "_len"):
            self._len = len(self.get_vocab())
        return self._len

    @property
    def vocab_size(self) -> int:
        return self.backend.size

    def _special_id(self, key: str) -> int | None:
        return self.convert_tokens_to_ids(self.special_tokens.get(key))

    @property
    def bos_token_id(self) -> int | None:
        if self.family == "internlm2":  # the remote class returns sp_model.bos_id()
            return self.backend.sp.bos_id()
        return self._special_id("bos_token")

    @property
    def eos_token_id(self) -> int | None:
        if self.family == "internlm2":  # sp_model.eos_id()
            return self.backend.sp.eos_id()
        return self._special_id("eos_token")

    @property
    def pad_token_id(self) -> int | None:
        return self._special_id("pad_token")

    @property
    def unk_token_id(self) -> int | None:
        return self._special_id("unk_token")

    @property
    def bos_token(self) -> str | None:
        return self.special_tokens.get("bos_token")

    @property
    def eos_token(self) -> str | None:
        return self.special_tokens.get("eos_token")

    @property
    def pad_token(self) -> str | None:
        return self.special_tokens.get("pad_token")

    @property
    def unk_token(self) -> str | None:
        return self.special_tokens.get("unk_token")

    @property
    def start_image_token_id(self) -> int | None:
        return self.convert_tokens_to_ids(IMG_START)

    @property
    def end_image_token_id(self) -> int | None:
        return self.convert_tokens_to_ids(IMG_END)

    @property
    def context_image_token_id(self) -> int | None:
        return self.convert_tokens_to_ids(IMG_CONTEXT)

    # -- decoding ------------------------------------------------------------------------
    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        """4.37.2 `_decode`: added non-special tokens are kept apart from the pieces."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        ids = [ids] if isinstance(ids, int) else ids
        tokens = self.convert_ids_to_tokens(ids, skip_special_tokens=skip_special_tokens)
        legacy_added = (set(self.added_tokens_encoder) - self._special_set) | {
            t for t in self.additional_special_tokens
            if (self.convert_tokens_to_ids(t) or 0) >= self.vocab_size}
        texts, current = [], []
        for token in tokens:
            if token in legacy_added:
                if current:
                    text = self._tokens_to_string(current)
                    if text:
                        texts.append(text)
                    current = []
                texts.append(token)
            else:
                current.append(token)
        if current:
            texts.append(self._tokens_to_string(current))
        # Qwen2.decode passes spaces_between_special_tokens=False; the others keep 4.37's True.
        text = ("" if self.family == "qwen2" else " ").join(texts)
        cleanup = self.family != "qwen2" and self.config.get("clean_up_tokenization_spaces",
                                                              False)
        return clean_up_tokenization(text) if cleanup else text

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> list[str]:
        return [self.decode(s, skip_special_tokens) for s in sequences]

    def _tokens_to_string(self, tokens: list[str]) -> str:
        if self.family == "qwen2":
            return self.backend.pieces_to_text(tokens)
        tokens = list(tokens)
        if self.family == "llama" and tokens[0].startswith(SPIECE_UNDERLINE):
            tokens[0] = tokens[0][1:]  # LlamaTokenizer drops the prefix space it added
        out, current, prev_special = "", [], False
        for i, token in enumerate(tokens):
            if token in self._special_set:
                # Llama adds a space only when legacy; the InternLM2 remote code always does.
                space = self.backend.legacy and i != 0 if self.family == "llama" else True
                if not prev_special and space:
                    out += " "
                out += self.backend.pieces_to_text(current) + token
                prev_special, current = True, []
            else:
                current.append(token)
                prev_special = False
        out += self.backend.pieces_to_text(current)
        if self.family == "internlm2":
            # Remote code: clean_up_tokenization, then " " + text (its no-prefix-space check
            # compares a str with a set of ints, so it always adds it), then text[1:].
            return clean_up_tokenization(out)
        return out

    # -- files ---------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> tuple[str, ...]:
        """Copy the original tokenizer files byte for byte (what 4.37 and VLMEvalKit load)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ORIGINAL_TOKENIZER_FILES:
            if (self.folder / name).is_file():
                if (self.folder / name).resolve() != (folder / name).resolve():
                    shutil.copyfile(self.folder / name, folder / name)
                written.append(str(folder / name))
        return tuple(written)

    def __repr__(self) -> str:
        return (f"OriginalTokenizer(family={self.family!r}, folder={str(self.folder)!r}, "
                f"len={len(self)})")


def clean_up_tokenization(text: str) -> str:
    """transformers' `clean_up_tokenization` (spaces before punctuation and contractions)."""
    for old, new in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                     (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"),
                     (" 're", "'re")):
        text = text.replace(old, new)
    return text
