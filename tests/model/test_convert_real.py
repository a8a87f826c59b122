"""The converter on real InternVL2 layouts: real configs (depth cut to two layers), the real
hub-layout tokenizer files, original-layout random weights (tests/model/real_checkpoints.py).

Native logits are compared with an independent forward of the ORIGINAL architecture on the
original tensors (tests/model/original_reference.py). Regression tests for issue 9:
item 1 (2B converts without remote code), item 2 (BOS of internlm2-chat / phi3-chat samples),
item 3 (the original config is never mutated; config.json comes back equal), item 4 (the
export restores the original tokenizer / generation / remote-code files byte for byte).
The default tier uses narrow widths (real vocab, tokenizer, rope, GQA ratio, image geometry);
the real widths run under `-m slow`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from transformers import InternVLForConditionalGeneration

from internvl_da.model.convert import ORIGINAL_DIR, convert_to_internvl, convert_to_native
from internvl_da.model.convert_tokens import CHECK_TEXTS
from internvl_da.model.load import load_tokenizer


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"internvl_da_tests_{name}",
                                                  Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checkpoints = _load("real_checkpoints")
reference = _load("original_reference")

# Facts of the released tokenizers (spec training.md §17.6, shared/real/README.md).
EXPECTED_IDS = {
    "1b": {"<IMG_CONTEXT>": 151648, "<img>": 151646, "</img>": 151647, "<|im_start|>": 151644,
           "<|im_end|>": 151645},
    "2b": {"<IMG_CONTEXT>": 92546, "<img>": 92544, "</img>": 92545, "<|im_start|>": 92543,
           "<|im_end|>": 92542, "<s>": 1},
    "4b": {"<IMG_CONTEXT>": 32013, "<img>": 32011, "</img>": 32012, "<|user|>": 32010,
           "<|assistant|>": 32001, "<|end|>": 32007, "<|system|>": 32006, "<s>": 1},
}


def sha256s(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.endswith(".safetensors")
            and p.name != "model.safetensors.index.json"}


def sample(ids: dict[str, int], size: str, text_len: int = 12):
    """[BOS] text <img> <IMG_CONTEXT>*256 </img> text, and one 448x448 tile."""
    gen = torch.Generator().manual_seed(1)
    text = torch.randint(100, 20000, (text_len,), generator=gen).tolist()
    bos = [ids["<s>"]] if "<s>" in ids else []
    seq = [*bos, *text[:4], ids["<img>"], *[ids["<IMG_CONTEXT>"]] * 256, ids["</img>"],
           *text[4:]]
    return torch.tensor(seq), torch.randn(1, 3, 448, 448, generator=gen)


def native_model(folder: Path):
    model = InternVLForConditionalGeneration.from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager")
    return model.eval()


def check_size(tmp_path: Path, size: str, narrow: bool) -> None:
    orig, native, back = tmp_path / "orig", tmp_path / "native", tmp_path / "back"
    config, tensors = checkpoints.write_checkpoint(orig, size, narrow=narrow)
    before = sha256s(orig)
    summary = convert_to_native(orig, native)  # item 1: no remote code, no AutoTokenizer
    assert summary.tensors_in == len(tensors)
    assert EXPECTED_IDS[size].items() <= summary.token_ids.items()
    assert "<IMG_CONTEXT>=" in str(summary)
    assert sha256s(native / ORIGINAL_DIR) == before  # every original file kept byte for byte

    ids = summary.token_ids
    input_ids, pixels = sample(ids, size)
    model = native_model(native)
    with torch.no_grad():
        got = model(input_ids=input_ids[None], pixel_values=pixels).logits[0]
    want = reference.logits(tensors, config, input_ids, ids["<IMG_CONTEXT>"], pixels)
    assert (got - want).abs().max().item() < 1e-4
    with torch.no_grad():
        generated = model.generate(input_ids=input_ids[None], pixel_values=pixels,
                                   max_new_tokens=3, do_sample=False, eos_token_id=None)
    assert generated[0, len(input_ids):].tolist() == reference.greedy(
        tensors, config, input_ids, ids["<IMG_CONTEXT>"], pixels, 3)
    del model

    convert_to_internvl(native, back)
    with safe_open(back / "model.safetensors", "pt") as handle:
        restored = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    assert set(restored) == set(tensors)
    assert all(restored[k].dtype == tensors[k].dtype and torch.equal(restored[k], tensors[k])
               for k in tensors)
    assert json.loads((back / "config.json").read_text()) == config  # item 3
    assert sha256s(back) == before  # item 4: tokenizer, generation, remote code unchanged


@pytest.mark.parametrize("size", ["1b", "2b", "4b"])
def test_real_layout_converts_matches_original_and_round_trips(tmp_path, size):
    """Issue 9 items 1, 3, 4 on real configs / tokenizers (narrow widths)."""
    check_size(tmp_path, size, narrow=True)


@pytest.mark.slow
@pytest.mark.parametrize("size", ["1b", "2b", "4b"])
def test_real_widths_convert_match_original_and_round_trip(tmp_path, size):
    """As above with the real hidden sizes (two layers each side; hundreds of MB)."""
    check_size(tmp_path, size, narrow=False)


def test_4b_long_context_uses_longrope_long_factors(tmp_path):
    """Beyond original_max_position_embeddings (4096) Phi-3 switches to the long factors."""
    config, tensors = checkpoints.write_checkpoint(tmp_path / "orig", "4b")
    summary = convert_to_native(tmp_path / "orig", tmp_path / "native")
    input_ids, pixels = sample(summary.token_ids, "4b", text_len=4200)
    assert len(input_ids) > config["llm_config"]["original_max_position_embeddings"]
    with torch.no_grad():
        got = native_model(tmp_path / "native")(input_ids=input_ids[None],
                                                pixel_values=pixels).logits[0]
    want = reference.logits(tensors, config, input_ids, summary.token_ids["<IMG_CONTEXT>"],
                            pixels)
    assert (got - want).abs().max().item() < 1e-4
    short = reference.logits(tensors, config, input_ids[:300],
                             summary.token_ids["<IMG_CONTEXT>"], pixels)
    assert (short - want[:300]).abs().max().item() > 1e-3  # the regimes differ: factors matter


@pytest.mark.parametrize("size", ["2b", "4b"])
def test_native_tokenizer_adds_bos_like_the_original(tmp_path, size):
    """Issue 9 item 2: internlm2-chat / phi3-chat samples start with <s>, as the original."""
    checkpoints.write_checkpoint(tmp_path / "orig", size)
    convert_to_native(tmp_path / "orig", tmp_path / "native")
    tokenizer = load_tokenizer(tmp_path / "native")
    assert tokenizer.encode("<|im_start|>user\nhi")[0] == tokenizer.bos_token_id == 1


@pytest.mark.parametrize("size", ["1b", "2b", "4b"])
def test_top_level_transformers_tokenizer_never_has_other_ids(tmp_path, size):
    """A plain-transformers tokenizer is written only where it gives the original ids."""
    checkpoints.write_checkpoint(tmp_path / "orig", size)
    summary = convert_to_native(tmp_path / "orig", tmp_path / "native")
    original = load_tokenizer(tmp_path / "native")
    if not (tmp_path / "native" / "tokenizer_config.json").is_file():
        assert any("no transformers tokenizer" in n for n in summary.notes)
        return
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(tmp_path / "native", trust_remote_code=False)
    for text in CHECK_TEXTS:
        assert hf(text)["input_ids"] == original.encode(text), text


def test_ids_outside_the_config_vocab_are_an_error(tmp_path):
    checkpoints.write_checkpoint(tmp_path / "orig", "1b")
    path = tmp_path / "orig" / "config.json"
    config = json.loads(path.read_text())
    config["llm_config"]["vocab_size"] = 151646
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"outside config.json llm_config.vocab_size 151646"):
        convert_to_native(tmp_path / "orig", tmp_path / "native")


def test_missing_image_token_is_an_error(tmp_path):
    checkpoints.write_checkpoint(tmp_path / "orig", "1b")
    for name in ("added_tokens.json", "tokenizer_config.json", "special_tokens_map.json"):
        path = tmp_path / "orig" / name
        path.write_text(path.read_text().replace("<IMG_CONTEXT>", "<IMG_CONTEXT_X>"))
    with pytest.raises(ValueError, match=r"orig: the tokenizer has no <IMG_CONTEXT> token"):
        convert_to_native(tmp_path / "orig", tmp_path / "native")
