"""Record rules of the `internvl2_5` template (InternVL3.5, spec internvl35.md §5): a first
system turn, a leading gpt turn KEPT (InternVL2 drops it), no alternation rule; what the
reference `preprocess_internvl2_5` (and its loader) would crash on or silently mis-train on is
rejected at file:line. Every record `parse_record` accepts is accepted by
`encode_conversation(..., "internvl2_5")`, and every record it rejects there is rejected here,
so `data check` and training agree. InternVL2's rules are unchanged (tests/data/test_formats.py).
"""

from __future__ import annotations

import pytest

from internvl_da.data import formats
from internvl_da.data.errors import SampleError
from internvl_da.data.templates import SYSTEM_MESSAGE_35, encode_conversation
from internvl_da.data.tokens import IGNORE_INDEX
from internvl_da.model.tiny import build_tiny_tokenizer

T = "internvl2_5"


def h(v):
    return {"from": "human", "value": v}


def g(v):
    return {"from": "gpt", "value": v}


def s(v):
    return {"from": "system", "value": v}


ACCEPTED = [
    {"image": "a.jpg", "conversations": [s("Be brief."), h("<image>\nq"), g("a")]},
    {"image": "a.jpg", "conversations": [s(""), h("q"), g("a")]},  # empty system prompt
    {"image": "a.jpg", "conversations": [h("q"), g("a"), h("q2"), g("a2")]},  # tag prepended
    {"conversations": [g("greeting"), h("q"), g("a")]},  # leading gpt: trained
    {"conversations": [h("q1"), h("q2"), g("a"), g("more")]},  # no alternation rule
    {"conversations": [h("q"), g("a"), h("trailing question")]},
    {"image": ["a", "b"], "conversations": [h("<image>\nfirst"), g("x"), h("<image>\nsecond"),
                                            g("y")]},
    {"conversations": [s("sys"), g("only an answer")]},
]

REJECTED = [  # (record, reason); "both": encode_conversation rejects it too
    ({"conversations": [h("q"), s("late"), g("a")]}, "system turn may only be the first", True),
    ({"conversations": [{"from": "pretrain", "value": "x"}, g("a")]}, "unsupported role", True),
    ({"conversations": [s("sys"), h("q")]}, "no gpt answer", True),
    ({"conversations": [h("q"), g("  ")]}, "empty answer in turn 2", True),
    ({"image": "a", "conversations": [h("q"), g("see <image>")]},
     "<image> tag in the gpt turn 2", True),
    ({"conversations": [h("<image> q"), g("a")]}, "1 <image> tags but no image", True),
    ({"image": ["a", "b"], "conversations": [h("<image> q"), g("a")]},
     "1 <image> tags for 2 images", True),
    ({"image": "a", "conversations": [h("<image><image>"), g("a")]}, "2 <image> tags for 1",
     True),
    # stricter than encode_conversation: the reference mis-trains these (module docstring)
    ({"image": "a", "conversations": [s("<image>\nsys"), h("<image>\nq"), g("a")]},
     "<image> tag in the system turn 1", False),
    ({"image": "a", "conversations": [g("hello"), h("<image>\nq"), g("a")]},
     "turn 1: an image sample must start with a human turn", False),
    ({"image": "a", "conversations": [s("sys"), g("hello"), h("q"), g("a")]},
     "turn 2: an image sample must start with a human turn", False),
    ({"image": "a", "conversations": [h("q"), g("a"), h("<image>\nq2"), g("b")]},
     "turn 1 has no <image> tag but a later turn has", False),
]


@pytest.mark.parametrize("obj", ACCEPTED)
def test_accepted_records_encode(obj):
    tok = build_tiny_tokenizer("qwen3")
    rec = formats.parse_record(obj, "d.jsonl", 4, T)
    assert rec.conversations == obj["conversations"] and not rec.dropped_gpt_turn
    ids, labels = encode_conversation(tok, T, rec.conversations, [4] * len(rec.images))
    assert any(label != IGNORE_INDEX for label in labels) and len(ids) == len(labels)


@pytest.mark.parametrize(("obj", "reason", "both"), REJECTED)
def test_rejected_records_name_file_line_and_reason(obj, reason, both):
    with pytest.raises(SampleError, match=reason) as exc:
        formats.parse_record(obj, "d.jsonl", 7, T)
    assert str(exc.value).startswith("d.jsonl:7: ")
    images = obj.get("image")
    counts = [4] * (len(images) if isinstance(images, list) else int(images is not None))
    tok = build_tiny_tokenizer("qwen3")
    if both:
        with pytest.raises(SampleError):
            encode_conversation(tok, T, obj["conversations"], counts)


def test_system_turn_sets_the_system_prompt_and_leading_gpt_is_trained():
    tok = build_tiny_tokenizer("qwen3")
    rec = formats.parse_record({"conversations": [s("Be brief."), g("hello"), h("q"), g("a")]},
                               "d.jsonl", 1, T)
    ids, labels = encode_conversation(tok, T, rec.conversations, [])
    text = tok.decode(ids)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>assistant\n"
                           "hello<|im_end|>\n") and SYSTEM_MESSAGE_35 not in text
    trained = tok.decode([i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX])
    assert trained == "hello<|im_end|>a<|im_end|>"


def test_internvl2_rules_are_unchanged_by_the_template_argument():
    """The same record: InternVL2 drops the leading gpt turn and refuses a system turn."""
    obj = {"conversations": [g("hello"), h("q"), g("a")]}
    for template in (None, "Hermes-2", "internlm2-chat", "phi3-chat"):
        rec = formats.parse_record(obj, "d.jsonl", 1, template)
        assert rec.dropped_gpt_turn and rec.conversations == [h("q"), g("a")]
        with pytest.raises(SampleError, match="unsupported role 'system'"):
            formats.parse_record({"conversations": [s("x"), h("q"), g("a")]}, "d.jsonl", 1,
                                 template)
    rec = formats.parse_record(obj, "d.jsonl", 1, T)
    assert not rec.dropped_gpt_turn and rec.conversations == obj["conversations"]
