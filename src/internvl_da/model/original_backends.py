"""Chunk encoders and decoders of the three original slow tokenizers (transformers 4.37.2).

Each backend tokenizes ONE text chunk (no added tokens inside) into (piece, start, end) with
character offsets into the chunk, and turns pieces back into text. Facts reproduced (checked
against transformers 4.37.2 by tools/tokenizer_parity.py):
- Qwen2 (`Qwen2Tokenizer`): NFC on the whole text first (`prepare_for_tokenization`), the
  PRETOKENIZE_REGEX split, GPT-2 byte-to-unicode mapping, BPE by merge rank; decode joins the
  pieces and decodes the bytes with `errors` ("replace").
- InternLM2 (remote `InternLM2Tokenizer`): `sp_model.encode(chunk, out_type=str)` with the model
  as shipped (its normalizer has add_dummy_prefix=False).
- Llama (`LlamaTokenizer`): legacy=False loads the model with add_dummy_prefix=False; a chunk
  starting with "▁" or " " is encoded behind the unk token, whose pieces are dropped.
  legacy=True encodes with the model as shipped.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import regex
import sentencepiece as spm

SPIECE_UNDERLINE = "▁"
QWEN2_PRETOKENIZE = regex.compile(
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

Spans = list[tuple[str, int, int]]


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _char_offsets(text: str) -> list[int]:
    """Cumulative UTF-8 byte offset at each character boundary (len(text) + 1 entries)."""
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + len(ch.encode("utf-8")))
    return offsets


def _bytes_to_chars(offsets: list[int], begin: int, end: int) -> tuple[int, int]:
    """A byte span as the smallest character span covering it."""
    return bisect_right(offsets, begin) - 1, bisect_left(offsets, end)


class BPEBackend:
    """Qwen2's byte-level BPE from vocab.json + merges.txt."""

    family = "qwen2"

    def __init__(self, vocab_file: Path, merges_file: Path, errors: str = "replace"):
        with open(vocab_file, encoding="utf-8") as f:
            self.vocab: dict[str, int] = json.load(f)
        self.inverse = {i: piece for piece, i in self.vocab.items()}
        ranks = {}
        with open(merges_file, encoding="utf-8") as f:
            for line in f:  # "#version" header and blank lines are skipped, as the original
                line = line.strip()
                if line and not line.startswith("#"):
                    ranks[tuple(line.split())] = len(ranks)
        self.ranks = ranks
        self.errors = errors
        self.byte_encoder = _byte_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        self._bpe = lru_cache(maxsize=1 << 16)(self._merge)

    def __getstate__(self):  # the per-instance cache does not pickle; workers rebuild it
        state = self.__dict__.copy()
        del state["_bpe"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bpe = lru_cache(maxsize=1 << 16)(self._merge)

    @property
    def size(self) -> int:
        return len(self.vocab)

    def _merge(self, word: str) -> tuple[str, ...]:
        """Apply the lowest-rank merge everywhere, left to right, until none applies."""
        parts = tuple(word)
        while len(parts) > 1:
            pairs = set(pairwise(parts))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = tuple(merged)
        return parts

    def tokenize(self, chunk: str) -> Spans:
        out: Spans = []
        for match in QWEN2_PRETOKENIZE.finditer(chunk):
            text, start = match.group(), match.start()
            offsets = _char_offsets(text)
            mapped = "".join(self.byte_encoder[b] for b in text.encode("utf-8"))
            pos = 0  # bytes consumed inside the match (one mapped char per byte)
            for piece in self._bpe(mapped):
                lo, hi = _bytes_to_chars(offsets, pos, pos + len(piece))
                out.append((piece, start + lo, start + hi))
                pos += len(piece)
        return out

    def piece_to_id(self, piece: str, unk_id: int | None) -> int | None:
        return self.vocab.get(piece, unk_id)

    def id_to_piece(self, index: int) -> str | None:
        return self.inverse.get(index)

    def pieces_to_text(self, pieces: list[str]) -> str:
        data = bytearray(self.byte_decoder[c] for c in "".join(pieces))
        return data.decode("utf-8", errors=self.errors)


def _load_sentencepiece(model_file: Path, dummy_prefix: bool) -> tuple[spm.SentencePieceProcessor,
                                                                        bytes]:
    """The processor and its serialized model (add_dummy_prefix switched off if asked)."""
    proto = model_file.read_bytes()
    if not dummy_prefix:
        from sentencepiece import sentencepiece_model_pb2 as model_pb2  # needs protobuf

        model = model_pb2.ModelProto.FromString(proto)
        model.normalizer_spec.add_dummy_prefix = False
        proto = model.SerializeToString()
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(proto)
    return sp, proto


class SentencePieceBackend:
    """SentencePiece chunks; `unk_prefix` is Llama non-legacy's trick for leading spaces."""

    def __init__(self, model_file: Path, family: str, legacy: bool = True):
        self.family = family
        self.legacy = legacy
        # Llama legacy=False drops the dummy prefix; InternLM2 uses the model as shipped.
        self._proto_args = (model_file, not (family == "llama" and not legacy))
        self.sp, _ = _load_sentencepiece(*self._proto_args)
        self._vocab = {self.sp.id_to_piece(i): i for i in range(self.sp.get_piece_size())}
        self.unk_token: str | None = None

    def __getstate__(self):  # SentencePieceProcessor is rebuilt in DataLoader workers
        state = self.__dict__.copy()
        del state["sp"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.sp, _ = _load_sentencepiece(*self._proto_args)

    @property
    def size(self) -> int:
        return self.sp.get_piece_size()

    def _encode(self, text: str) -> Spans:
        offsets = _char_offsets(text)
        return [(p.piece, *_bytes_to_chars(offsets, p.begin, p.end))
                for p in self.sp.encode(text, return_type="proto").pieces]

    def tokenize(self, chunk: str) -> Spans:
        unk = self.unk_token
        if self.legacy or not chunk.startswith((SPIECE_UNDERLINE, " ")) or unk is None:
            return self._encode(chunk)
        # Llama non-legacy `_tokenize`: encode unk + chunk, drop len(encode(unk)) pieces.
        skip = len(self.sp.encode(unk, out_type=str))
        pieces = self._encode(unk + chunk)
        shift = len(unk)
        kept = pieces[skip:] if len(pieces) >= skip else pieces
        return [(p, max(s - shift, 0), max(e - shift, 0)) for p, s, e in kept]

    def piece_to_id(self, piece: str, unk_id: int | None) -> int:
        return self._vocab.get(piece, self.sp.unk_id())

    def id_to_piece(self, index: int) -> str:
        return self.sp.id_to_piece(index)

    def pieces_to_text(self, pieces: list[str]) -> str:
        return self.sp.decode(pieces)
