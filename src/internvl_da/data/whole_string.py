"""Ids and labels from ONE tokenization of the whole training string (original tokenizers).

With `OriginalTokenizer` (model/original_tokenizer.py) the ids are exactly what the reference
gets by tokenizing the whole string with the transformers 4.37.2 slow tokenizer, including
what the added tokens' `rstrip`/`lstrip` flags swallow across segment boundaries (Phi-3's
`<|system|>`, `<|user|>`, `<|assistant|>` eat the "\\n" after them; `</img>` does not).
Labels come from character spans: a token is trained iff its span lies inside an answer +
its closing separator (spec training.md §12), so no re-tokenization can disagree with the ids.
A token straddling an answer's start (header and answer text merged) stays masked, as the
reference masks it; the one case the project cuts on purpose is the Hermes-2 newline edge
(see templates.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from internvl_da.data.tokens import IGNORE_INDEX


def is_original_tokenizer(tokenizer) -> bool:
    """Duck-typed: the tokenizer gives character spans of its tokens (OriginalTokenizer)."""
    return hasattr(tokenizer, "encode_with_spans") and hasattr(tokenizer, "prepare")


def encode_parts(tokenizer, parts: Sequence[tuple[str, bool]], cut_before: set[int] = frozenset()
                 ) -> tuple[list[int], list[int]]:
    """Ids and labels of "".join(texts); trained parts give the labels.

    `cut_before` holds indices of parts where the string is tokenized in two (no BOS after the
    cut). Each text is prepared (Qwen2: NFC) as the tokenizer prepares the whole string.
    """
    texts = [tokenizer.prepare(text) for text, _ in parts]
    whole = "".join(texts)
    if tokenizer.prepare(whole) != whole:
        raise ValueError("unicode normalization changes the text across a segment boundary")
    starts = [0]
    for text in texts:
        starts.append(starts[-1] + len(text))
    regions = [(starts[i], starts[i + 1]) for i, (_, trained) in enumerate(parts) if trained]
    bounds = [0, *sorted(starts[i] for i in cut_before if 0 < i < len(parts)), len(whole)]
    ids: list[int] = []
    labels: list[int] = []
    for k, (lo, hi) in enumerate(pairwise(bounds)):
        seg_ids, spans = tokenizer.encode_with_spans(whole[lo:hi], add_special_tokens=k == 0)
        for token, (s, e) in zip(seg_ids, spans, strict=True):
            s, e = s + lo, e + lo
            # SentencePiece gives byte-fallback pieces after a character's first an empty span
            # at its end; an empty span counts where it sits (BOS and the dummy `▁` sit at 0).
            trained = any(a <= s and (e <= b if e > s else s < b) for a, b in regions)
            ids.append(token)
            labels.append(token if trained else IGNORE_INDEX)
    return ids, labels
