"""Templates: exact strings, golden label masks, segment == whole-string ids, errors."""

from __future__ import annotations

import hashlib

import pytest
from tokenizers.processors import TemplateProcessing

from internvl_da.data import templates
from internvl_da.data.errors import SampleError, TruncationError
from internvl_da.data.tokens import IGNORE_INDEX, IMG_CONTEXT
from internvl_da.model.tiny import TINY_FAMILIES, build_tiny_tokenizer

SYS = templates.SYSTEM_MESSAGE


@pytest.fixture(scope="module")
def toks():
    return {family: build_tiny_tokenizer(family) for family in TINY_FAMILIES}


def conv(*turns):
    return [{"from": "human" if i % 2 == 0 else "gpt", "value": v} for i, v in enumerate(turns)]


def test_system_message_bytes():
    assert SYS.encode("utf-8").hex()[:12] == "e4bda0e698af"  # 你是
    assert "大模型，英文名叫InternVL, 是一个" in SYS
    # sha256 of the spec string (training.md §11), typed from the spec once
    assert hashlib.sha256(SYS.encode()).hexdigest() == (
        "da22fdde9f422876a0b725a4ecec9f15"
        "005bfaad700d33c87fe6f29b0bd09447")
    assert len(SYS) == 59


def test_spec_two_turn_strings():
    c = conv("<image>\nQ1", "A1", "Q2", "A2")
    img = "<img>" + IMG_CONTEXT * 8 + "</img>"
    assert templates.training_string("Hermes-2", c, [8]) == (
        f"<|im_start|>system\n{SYS}<|im_end|><|im_start|>user\n{img}\nQ1<|im_end|>"
        "<|im_start|>assistant\nA1<|im_end|><|im_start|>user\nQ2<|im_end|>"
        "<|im_start|>assistant\nA2<|im_end|>")
    assert templates.training_string("phi3-chat", c, [8]) == (
        f"<|system|>\n{SYS}<|end|><|user|>\n{img}\nQ1<|end|><|assistant|>\nA1<|end|>"
        "<|user|>\nQ2<|end|><|assistant|>\nA2<|end|>")


def test_generation_prompts_match_evaluation_spec():
    h = templates.build_generation_prompt("Hermes-2", "What?", [])
    assert h == f"<|im_start|>system\n{SYS}<|im_end|><|im_start|>user\nWhat?<|im_end|>" \
                "<|im_start|>assistant\n"
    p = templates.build_generation_prompt("phi3-chat", "What?", [2])
    assert p == (f"<|system|>\n{SYS}<|end|><|user|>\n<img>{IMG_CONTEXT * 2}</img>\nWhat?<|end|>"
                 "<|assistant|>\n")
    assert templates.TEMPLATES["phi3-chat"].stop_token == "<|end|>"
    assert templates.TEMPLATES["Hermes-2"].stop_token == "<|im_end|>"


@pytest.mark.parametrize("family", list(TINY_FAMILIES))
def test_golden_label_masks(toks, family):
    tok, name = toks[family], TINY_FAMILIES[family]
    sep = templates.TEMPLATES[name].stop_token  # internvl2_5: its "\n" is not trained (§5)
    ids, labels = templates.encode_conversation(
        tok, name, conv("Is there a red circle?", "yes", "How many?", "3"), [4])
    trained = [i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX]
    assert tok.decode(trained) == f"yes{sep}3{sep}"
    # Trained tokens are exactly two contiguous runs, each ending with the separator token.
    runs, prev = 0, False
    for lab in labels:
        runs += lab != IGNORE_INDEX and not prev
        prev = lab != IGNORE_INDEX
    assert runs == 2
    sep_id = tok.convert_tokens_to_ids(sep)
    assert [lab for lab in labels if lab != IGNORE_INDEX].count(sep_id) == 2
    assert labels[0] == IGNORE_INDEX  # BOS / system block masked
    assert ids.count(tok.context_image_token_id) == 4


def test_bos_and_phi3_space(toks):
    h, _ = templates.encode_conversation(toks["qwen2"], "Hermes-2", conv("q", "a"), [])
    assert h[0] == toks["qwen2"].convert_tokens_to_ids("<|im_start|>")  # no BOS
    llama, _ = templates.encode_conversation(toks["llama"], "internlm2-chat", conv("q", "a"), [])
    assert llama[0] == toks["llama"].bos_token_id and llama[1] != llama[0]
    phi, labels = templates.encode_conversation(toks["phi3"], "phi3-chat", conv("q", "a"), [])
    assert toks["phi3"].convert_ids_to_tokens(phi[:3]) == ["<s>", "▁", "<|system|>"]
    assert labels[:2] == [IGNORE_INDEX, IGNORE_INDEX]


CONVERSATIONS = [
    (conv("<image>\nWhat colour is the circle?", "red"), [4]),
    (conv("What colour?", "blue", "And the square?", "green, on the left."), [4]),
    (conv("Image-1: <image>\nImage-2: <image>\nCompare them.", "The second is darker."), [4, 8]),
    (conv("Explain a zebra crossing.", "A marked crossing."), []),
    (conv("图中有什么？", "一辆红色的车。", "Detect <ref>the car</ref>",
          "<ref>the car</ref><box>[[12, 340, 560, 999]]</box>"), [4]),
    (conv("  spaced question  ", "  spaced answer "), [4]),
    (conv("Is <c1,CAM_FRONT,[512.3,250.0]> moving?", "Yes, it is moving."), [12]),
    (conv("\n\nq after blank lines", "a\n\nwith a blank line  "), []),
    (conv("<image>\nFirst.", "1", "Second: <image>", "2", "Again?", "3 4"), [4, 8]),
    (conv("q", "  leading spaces", "q2", "\nleading newline"), []),
    (conv("Count 1234 and 56.", "1290"), []),
]


@pytest.mark.parametrize("family", list(TINY_FAMILIES))
@pytest.mark.parametrize("case", range(len(CONVERSATIONS)))
def test_segment_ids_equal_whole_string(toks, family, case):
    conversations, counts = CONVERSATIONS[case]
    templates.verify_against_full_string(toks[family], TINY_FAMILIES[family], conversations, counts)


def test_internlm2_strips_values_hermes_does_not(toks):
    tok = toks["llama"]
    ids, labels = templates.encode_conversation(tok, "internlm2-chat",
                                                conv("  q  ", "  a  "), [])
    assert "  a" not in tok.decode([i for i, lab in zip(ids, labels, strict=True) if lab >= 0])
    s = templates.training_string("internlm2-chat", conv("  q  ", "  a  "), [])
    assert "user\nq<|im_end|>" in s and "assistant\na<|im_end|>" in s
    s = templates.training_string("Hermes-2", conv("  q  ", "  a  "), [])
    assert "user\n  q  <|im_end|>" in s


def test_single_image_tag_prepended_once(toks):
    s = templates.training_string("Hermes-2", conv("What?", "x"), [2])
    assert "user\n<img>" + IMG_CONTEXT * 2 + "</img>\nWhat?" in s
    s = templates.training_string("Hermes-2", conv("Look: <image> now", "x"), [2])
    assert s.count("<img>") == 1 and "Look: <img>" in s


def test_answer_starting_with_newline_is_segment_wise(toks):
    """Documented divergence (spec §22): segment-wise keeps the answer's own newline token."""
    tok = toks["qwen2"]
    c = conv("q", "\nanswer")
    ids, labels = templates.encode_conversation(tok, "Hermes-2", c, [])
    trained = tok.decode([i for i, lab in zip(ids, labels, strict=True) if lab >= 0])
    assert trained == "\nanswer<|im_end|>"
    newline = tok.encode("\n", add_special_tokens=False)
    first = next(k for k, lab in enumerate(labels) if lab >= 0)
    assert ids[first - 1:first + 1] == newline * 2  # header's newline, then the answer's own


@pytest.mark.parametrize("conversations,counts,reason", [
    (conv("q", ""), [], "empty answer"),
    (conv("q", "   "), [], "empty answer"),
    (conv("q"), [], "pairs"),
    ([{"from": "gpt", "value": "a"}, {"from": "human", "value": "q"}], [], "pairs"),
    ([{"from": "gpt", "value": "a"}, {"from": "gpt", "value": "b"},
      {"from": "human", "value": "q"}], [], "alternate"),
    ([{"from": "system", "value": "s"}, {"from": "gpt", "value": "a"}], [], "alternate"),
    (conv("<image> <image>", "a"), [4], "2 <image> tags for 1 images"),
    (conv("<image>", "a"), [4, 4], "1 <image> tags for 2 images"),
    (conv("<image> q", "a"), [], "1 <image> tags for 0 images"),
    (conv("q", 5), [], "strings"),
    (conv("q", "see <image>"), [4], "turn 2: <image> tag in a gpt answer"),
])
def test_errors(toks, conversations, counts, reason):
    with pytest.raises(SampleError, match=reason) as exc:
        templates.encode_conversation(toks["qwen2"], "Hermes-2", conversations, counts,
                                      source="x.jsonl", line=7)
    assert str(exc.value).startswith("x.jsonl:7: ")


def test_truncation(toks):
    tok = toks["qwen2"]
    c = conv("<image>\nq", "a long answer with several words in it", "q2", "second answer")
    full, _ = templates.encode_conversation(tok, "Hermes-2", c, [50])
    # Tail cut inside the second answer: kept, labels shortened too.
    ids, labels = templates.encode_conversation(tok, "Hermes-2", c, [50], max_length=len(full) - 2)
    assert ids == full[:-2] and len(labels) == len(ids)
    # Cut through the image block.
    with pytest.raises(TruncationError, match="cuts an image block"):
        templates.encode_conversation(tok, "Hermes-2", c, [50], max_length=60)
    # Cut after the image block but before any answer token.
    start = full.index(tok.convert_tokens_to_ids("</img>"))
    with pytest.raises(TruncationError, match="no answer token"):
        templates.encode_conversation(tok, "Hermes-2", c, [50], max_length=start + 3)


def test_unknown_template(toks):
    with pytest.raises(ValueError, match="unknown template"):
        templates.encode_conversation(toks["qwen2"], "vicuna", conv("q", "a"), [])


def test_strict_verify_catches_the_newline_edge(toks):
    """Qwen2-style merges turn "assistant\\n" + "\\nA" into one `ĊĊ` in the whole string."""
    c = conv("q", "\nanswer")
    templates.verify_against_full_string(toks["qwen2"], "Hermes-2", c, [])
    with pytest.raises(AssertionError, match="position"):
        templates.verify_against_full_string(toks["qwen2"], "Hermes-2", c, [], strict=True)
    # SentencePiece-style families have no newline merges: strict holds there.
    templates.verify_against_full_string(toks["phi3"], "phi3-chat", c, [], strict=True)


@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_segments_are_encoded_in_context(toks, family):
    """A segment alone would gain a dummy-prefix `▁` that the whole prompt does not have."""
    tok = toks[family]
    ids, labels = templates.encode_conversation(tok, TINY_FAMILIES[family], conv("q", "yes"), [])
    trained = [i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX]
    alone = tok.encode("yes", add_special_tokens=False)
    assert tok.convert_ids_to_tokens(alone)[0].startswith("▁")
    assert trained[:-1] != alone and tok.decode(trained[:-1]) == "yes"


def test_phi3_space_not_doubled_with_quirky_tokenizer():
    """A tokenizer that itself emits [<s>, ▁, ...] (the slow Phi-3 quirk) gets one `▁`."""
    tok = build_tiny_tokenizer("phi3")
    bos, space = tok.bos_token_id, tok.convert_tokens_to_ids("▁")
    tok.backend_tokenizer.post_processor = TemplateProcessing(
        single="<s> ▁ $A", special_tokens=[("<s>", bos), ("▁", space)])
    assert tok.encode("<|system|>")[:2] == [bos, space]
    c = conv("q", "a", "q2", "a2")
    ids, _ = templates.encode_conversation(tok, "phi3-chat", c, [])
    assert ids[:3] == [bos, space, tok.convert_tokens_to_ids("<|system|>")]
    templates.verify_against_full_string(tok, "phi3-chat", c, [], strict=True)


@pytest.mark.parametrize("family", list(TINY_FAMILIES))
@pytest.mark.parametrize("counts", [[], [4], [2, 3]])
def test_generation_ids_are_the_training_prefix(toks, family, counts):
    tok, name = toks[family], TINY_FAMILIES[family]
    question = "Image-1: <image>\nImage-2: <image>\nSame?" if len(counts) == 2 else "Same?"
    prompt = templates.encode_generation_prompt(tok, name, question, counts)
    ids, labels = templates.encode_conversation(tok, name, conv(question, "yes"), counts)
    assert ids[:len(prompt)] == prompt
    assert labels[len(prompt) - 1] == IGNORE_INDEX and labels[len(prompt)] != IGNORE_INDEX
    text = templates.build_generation_prompt(name, question, counts)
    skip = {"qwen2": 0, "qwen3": 0, "llama": 1, "phi3": 2}[family]  # BOS, and phi3's `▁` after it
    assert tok.decode(prompt[skip:]) == text
    assert prompt.count(tok.context_image_token_id) == sum(counts)


def test_generation_prompt_tag_errors():
    with pytest.raises(ValueError, match="1 <image> tags for 0 images"):
        templates.build_generation_prompt("Hermes-2", "<image>\nq", [])
    with pytest.raises(ValueError, match="1 <image> tags for 2 images"):
        templates.build_generation_prompt("Hermes-2", "q <image>", [4, 4])


def test_truncation_through_second_image(toks):
    tok = toks["qwen2"]
    c = conv("<image>\nq", "a", "and <image>", "b")
    full, _ = templates.encode_conversation(tok, "Hermes-2", c, [4, 40])
    second_end = len(full) - 1 - full[::-1].index(tok.convert_tokens_to_ids("</img>"))
    with pytest.raises(TruncationError, match="cuts an image block"):
        templates.encode_conversation(tok, "Hermes-2", c, [4, 40], max_length=second_end)
    ids, labels = templates.encode_conversation(tok, "Hermes-2", c, [4, 40],
                                                max_length=second_end + 1)
    assert ids == full[:second_end + 1] and any(lab != IGNORE_INDEX for lab in labels)


def test_leading_gpt_turn_is_dropped_as_the_reference():
    """Reference deviation fixed: a first gpt turn is dropped (`source[1:]`), not an error."""
    tok = build_tiny_tokenizer("qwen2")
    c = [{"from": "gpt", "value": "preamble"}, *conv("q", "a")]
    assert templates.leading_gpt_turn(c) and not templates.leading_gpt_turn(conv("q", "a"))
    assert not templates.leading_gpt_turn([])
    assert templates.encode_conversation(tok, "Hermes-2", c, []) == \
        templates.encode_conversation(tok, "Hermes-2", conv("q", "a"), [])
    assert templates.training_string("Hermes-2", c, []) == \
        templates.training_string("Hermes-2", conv("q", "a"), [])
