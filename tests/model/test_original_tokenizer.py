"""OriginalTokenizer against transformers 4.37.2's slow tokenizers (recorded ground truth).

tests/assets/real/original_ids.json was written by tools/tokenizer_parity.py running the real
4.37.2 tokenizers on the real hub-layout folders; the slow test re-runs it.
"""

from __future__ import annotations

import filecmp
import importlib.util
import json
import pickle
from pathlib import Path

import pytest

from internvl_da.model.original_tokenizer import (
    ORIGINAL_TOKENIZER_FILES,
    OriginalTokenizer,
    load_original_tokenizer,
)

ROOT = Path(__file__).resolve().parents[2]
RECORDED = json.loads((ROOT / "tests/assets/real/original_ids.json").read_text(encoding="utf-8"))
SIZES = ("1b", "2b", "4b")


@pytest.fixture(scope="module")
def toks(real_tokenizer_dirs) -> dict[str, OriginalTokenizer]:
    return {size: load_original_tokenizer(real_tokenizer_dirs[size]) for size in SIZES}


@pytest.mark.parametrize("size", SIZES)
def test_ids_and_decode_equal_transformers_4_37(toks, size):
    tok, rows = toks[size], RECORDED[size]["rows"]
    assert len(rows) > 50
    for row in rows:
        assert tok.encode(row["text"]) == row["ids"], row["text"]
        assert tok.convert_ids_to_tokens(row["ids"]) == row["tokens"], row["text"]
        assert tok.decode(row["ids"]) == row["decode"], row["text"]
        assert tok.decode(row["ids"], skip_special_tokens=True) == row["decode_skip"], row["text"]


@pytest.mark.parametrize("size", SIZES)
def test_special_ids_and_length_equal_transformers_4_37(toks, size):
    tok, meta = toks[size], RECORDED[size]["meta"]
    assert (len(tok), tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id) == (
        meta["len"], meta["bos"], meta["eos"], meta["pad"], meta["unk"])


def test_real_added_token_ids(toks):
    """The ids the converter checks: `<IMG_CONTEXT>`, chat tokens, BOS (issue 9)."""
    assert toks["1b"].context_image_token_id == 151648
    assert toks["1b"].convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"]) == [151644, 151645]
    assert toks["2b"].context_image_token_id == 92546
    assert toks["2b"].convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"]) == [92543, 92542]
    assert toks["2b"].encode("<|im_start|>")[:2] == [1, 92543]  # BOS added, as the original
    assert toks["4b"].context_image_token_id == 32013
    assert toks["4b"].convert_tokens_to_ids(["<|system|>", "<|end|>"]) == [32006, 32007]
    assert toks["1b"].encode("<|im_start|>") == [151644]  # Qwen2: no BOS


def test_transformers5_deviations_are_fixed(toks):
    """Regression (issue 9): runs of spaces, `▁` after BOS, rstrip tokens, `</img>` newline."""
    phi = toks["4b"]
    # SentencePiece splits "\n  - near" as ▁ ▁- (transformers 5: ▁▁ -).
    assert phi.tokenize("\n  - near")[-3:] == ["▁", "▁-", "▁near"]
    ids = phi.encode("<|system|>\nsys<|end|><|user|>\n<img><IMG_CONTEXT></img>\nq<|end|>")
    tokens = phi.convert_ids_to_tokens(ids)
    assert tokens[:4] == ["<s>", "▁", "<|system|>", "sys"]  # `▁` after BOS; rstrip eats "\n"
    assert tokens[tokens.index("</img>") + 1] == "<0x0A>"  # </img> has no rstrip: "\n" stays
    assert tokens[tokens.index("<|user|>") + 1] == "<img>"  # <|user|> rstrip eats "\n"


def test_spans_point_into_the_text(toks):
    text = "<|im_start|>user\n图中  - near<|im_end|>"
    for size in ("1b", "2b"):
        ids, spans = toks[size].encode_with_spans(text)
        assert len(ids) == len(spans)
        assert all(0 <= s <= e <= len(text) for s, e in spans)
        assert text[spans[-1][0]:spans[-1][1]] == "<|im_end|>"
    spans = toks["4b"].tokenize_with_spans("<|user|>\n  - near")
    # `<|user|>` is not in all_special_tokens, so Llama's prefix `▁` stays, spanning nothing.
    assert [p for p, _, _ in spans][:2] == ["▁", "<|user|>"] and spans[0][1:] == (0, 0)
    text = "<|user|>\n  - near"
    assert "".join(text[s:e] for _, s, e in spans[2:]) == "- near"  # rstrip ate "\n  "


def test_save_pretrained_copies_original_files(toks, tmp_path):
    for size in SIZES:
        written = toks[size].save_pretrained(tmp_path / size)
        assert written
        for path in map(Path, written):
            assert path.name in ORIGINAL_TOKENIZER_FILES
            assert filecmp.cmp(path, toks[size].folder / path.name, shallow=False)
        again = load_original_tokenizer(tmp_path / size)
        assert again.encode("<|im_start|>x  y") == toks[size].encode("<|im_start|>x  y")


def test_pickles_for_dataloader_workers(toks):
    for size in SIZES:
        clone = pickle.loads(pickle.dumps(toks[size]))
        assert clone.encode("a  b\n  - c") == toks[size].encode("a  b\n  - c")


def test_missing_file_and_unknown_family(real_tokenizer_folder, tmp_path):
    folder = real_tokenizer_folder("2b")
    (folder / "tokenizer.model").unlink()
    with pytest.raises(FileNotFoundError, match=f"{folder}: missing .*tokenizer.model"):
        load_original_tokenizer(folder)
    with pytest.raises(FileNotFoundError, match=r"file tokenizer_config\.json"):
        load_original_tokenizer(tmp_path / "empty")
    other = real_tokenizer_folder("1b", tmp_path / "bert")
    config = json.loads((other / "tokenizer_config.json").read_text())
    (other / "tokenizer_config.json").write_text(json.dumps({**config,
                                                             "tokenizer_class": "BertTokenizer"}))
    with pytest.raises(ValueError, match=r"bert: unknown tokenizer family 'BertTokenizer'"):
        load_original_tokenizer(other)
    (other / "tokenizer_config.json").write_text("{\n  bad")
    with pytest.raises(ValueError, match=r"tokenizer_config.json: line 2: not valid JSON"):
        load_original_tokenizer(other)


@pytest.mark.slow
def test_regenerated_ids_equal_recorded(tmp_path):
    """Re-run transformers 4.37.2 (builds /tmp/tf437 on first use) and compare."""
    spec = importlib.util.spec_from_file_location("tokenizer_parity",
                                                  ROOT / "tools/tokenizer_parity.py")
    parity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parity)
    out = tmp_path / "ids.json"
    assert parity.main(["--out", str(out), "--check"]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == RECORDED
