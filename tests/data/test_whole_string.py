"""Templates on the real InternVL2 tokenizers: ids equal transformers 4.37.2 on whole strings.

The recorded ids (tests/assets/real/original_ids.json, tools/tokenizer_parity.py) include the
whole training strings and generation prompts of tools/tokenizer_parity.py's conversations,
tokenized by the real 4.37.2 slow tokenizers.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from internvl_da.data import templates
from internvl_da.data.tokens import IGNORE_INDEX, IMG_CONTEXT
from internvl_da.model.original_tokenizer import load_original_tokenizer

ROOT = Path(__file__).resolve().parents[2]
RECORDED = json.loads((ROOT / "tests/assets/real/original_ids.json").read_text(encoding="utf-8"))


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PARITY = _module(ROOT / "tools/tokenizer_parity.py", "tokenizer_parity_for_tests")
BUILDER = _module(ROOT / "tests/model/real_tokenizers.py", "real_tokenizers_for_data_tests")
CONVERSATIONS = PARITY.conversations()
SIZES = ("1b", "2b", "4b")


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    return {s: load_original_tokenizer(BUILDER.write_real_tokenizer(s, root / s)) for s in SIZES}


def _recorded(size: str, text: str) -> list[int]:
    return next(row["ids"] for row in RECORDED[size]["rows"] if row["text"] == text)


def _text(tok, ids: list[int]) -> str:
    """The exact text of ids, piece by piece (independent of decode's quirks)."""
    data = b""
    for token in tok.convert_ids_to_tokens(ids):
        if token in tok.added_tokens_encoder:
            data += token.encode()
        elif tok.family == "qwen2":
            data += bytes(tok.backend.byte_decoder[c] for c in token)
        elif token.startswith("<0x") and token.endswith(">"):
            data += bytes([int(token[3:-1], 16)])
        else:
            data += token.replace("▁", " ").encode()
    return data.decode()


def _runs(labels: list[int]) -> list[list[int]]:
    runs, current = [], []
    for label in [*labels, IGNORE_INDEX]:
        if label != IGNORE_INDEX:
            current.append(label)
        elif current:
            runs, current = [*runs, current], []
    return runs


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", range(len(CONVERSATIONS)))
def test_ids_equal_whole_string_transformers_4_37(toks, size, case):
    tok, name = toks[size], BUILDER.REAL_TEMPLATES[size]
    convs, tiles = CONVERSATIONS[case]
    counts = [2 * t for t in tiles]
    ids, labels = templates.encode_conversation(tok, name, convs, counts)
    expected = _recorded(size, templates.training_string(name, convs, counts))
    edge = size == "1b" and convs[-1]["value"].startswith("\n")
    if edge:  # documented Hermes-2 choice: the answer's "\n" is its own token, not `ĊĊ`
        assert len(ids) == len(expected) + 1 and tok.decode(ids) == tok.decode(expected)
        with pytest.raises(AssertionError, match="position"):
            templates.verify_against_full_string(tok, name, convs, counts, strict=True)
    else:
        assert ids == expected
        templates.verify_against_full_string(tok, name, convs, counts, strict=True)
    templates.verify_against_full_string(tok, name, convs, counts)
    # Labels: one run per answer, each = the answer's tokens + the closing separator.
    sep_id = tok.convert_tokens_to_ids(templates.TEMPLATES[name].sep)
    answers = [t["value"] for t in convs if t["from"] == "gpt"]
    runs = _runs(labels)
    assert len(runs) == len(answers) and all(run[-1] == sep_id for run in runs)
    strip = {"1b": str, "2b": str.strip, "4b": str.lstrip}[size]  # strip_values / rstrip
    for run, answer in zip(runs, answers, strict=True):
        assert _text(tok, run) == strip(answer) + templates.TEMPLATES[name].sep
    assert labels[0] == IGNORE_INDEX and len(labels) == len(ids)


@pytest.mark.parametrize("size", SIZES)
def test_generation_prompt_equals_4_37_and_prefixes_training(toks, size):
    tok, name = toks[size], BUILDER.REAL_TEMPLATES[size]
    for convs, tiles in CONVERSATIONS:
        counts = [2 * t for t in tiles]
        if not counts:
            continue
        question = convs[0]["value"]
        prompt = templates.encode_generation_prompt(tok, name, question, counts)
        assert prompt == _recorded(size, templates.build_generation_prompt(name, question,
                                                                           counts))
        if question != question.strip():
            continue  # internlm2-chat strips training values; model.chat does not strip
        ids, labels = templates.encode_conversation(tok, name, convs[:2], counts)
        assert ids[:len(prompt)] == prompt and labels[len(prompt)] != IGNORE_INDEX


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tiles", [[1], [13], [7, 6]])
def test_real_tile_counts_strict(toks, size, tiles):
    tok, name = toks[size], BUILDER.REAL_TEMPLATES[size]
    question = "Image-1: <image>\nImage-2: <image>\nCompare." if len(tiles) == 2 else "Describe."
    convs = [{"from": "human", "value": question},
             {"from": "gpt", "value": "- a\n  - b  "},
             {"from": "human", "value": "<ref>car</ref>?"},
             {"from": "gpt", "value": "<ref>car</ref><box>[[1, 2, 3, 4]]</box>"}]
    counts = [256 * t for t in tiles]
    ids, _ = templates.encode_conversation(tok, name, convs, counts)
    assert ids == tok.encode(templates.training_string(name, convs, counts))
    assert ids.count(tok.convert_tokens_to_ids(IMG_CONTEXT)) == sum(counts)


def test_phi3_strip_flags_across_segments(toks):
    """Regression (issue 9): `<|user|>` (rstrip) eats the "\\n"; `</img>` keeps its "\\n"."""
    tok = toks["4b"]
    ids, _ = templates.encode_conversation(
        tok, "phi3-chat", [{"from": "human", "value": "<image>\nQ"},
                           {"from": "gpt", "value": "A"}], [2])
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens[:3] == ["<s>", "▁", "<|system|>"]
    assert tokens[tokens.index("<|user|>") + 1] == "<img>"
    assert tokens[tokens.index("</img>") + 1] == "<0x0A>"
    assert tokens[tokens.index("<|assistant|>") + 1] == "A"


def test_internlm2_bos_in_training_and_generation(toks):
    """Regression (issue 9): 2B samples and prompts start `<s><|im_start|>`."""
    tok = toks["2b"]
    ids, labels = templates.encode_conversation(
        tok, "internlm2-chat", [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
        [])
    assert ids[:2] == [1, 92543] and labels[:2] == [IGNORE_INDEX, IGNORE_INDEX]
    assert templates.encode_generation_prompt(tok, "internlm2-chat", "q", [])[:2] == [1, 92543]
