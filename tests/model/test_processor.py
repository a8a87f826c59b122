"""model/processor.py `chat_template`: the training template of every family, rendered by
transformers' `apply_chat_template`, equals the project's own prompt builders byte for byte
(templates.build_generation_prompt / training_string), with each template's OWN system message
(regression: the InternVL2 message was formatted into every template, so a converted
InternVL3.5 checkpoint carried the wrong one, spec internvl35.md §4.1) and BOS only where the
template's samples start with it (convert_tokens.BOS_TEMPLATES)."""

from __future__ import annotations

import pytest

from internvl_da.data.templates import (
    SYSTEM_MESSAGE,
    SYSTEM_MESSAGE_35,
    build_generation_prompt,
    training_string,
)
from internvl_da.model.convert_tokens import BOS_TEMPLATES
from internvl_da.model.processor import chat_template
from internvl_da.model.tiny import TINY_FAMILIES, build_tiny_tokenizer

FAMILIES = sorted(TINY_FAMILIES.items())


def render(tok, template, messages, generation):
    return tok.apply_chat_template(messages, chat_template=chat_template(template),
                                   add_generation_prompt=generation, tokenize=False)


def bos(tok, template):
    return tok.bos_token if template in BOS_TEMPLATES else ""


@pytest.mark.parametrize(("family", "template"), FAMILIES)
def test_generation_prompt_equals_build_generation_prompt(family, template):
    tok = build_tiny_tokenizer(family)
    text = render(tok, template, [{"role": "user", "content": "What is it?"}], True)
    assert text == bos(tok, template) + build_generation_prompt(template, "What is it?", [])


@pytest.mark.parametrize(("family", "template"), FAMILIES)
def test_two_turns_equal_the_training_string(family, template):
    tok = build_tiny_tokenizer(family)
    conv = [{"from": "human", "value": "q1"}, {"from": "gpt", "value": "a1"},
            {"from": "human", "value": "q2"}, {"from": "gpt", "value": "a2"}]
    messages = [{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]}
                for t in conv]
    assert render(tok, template, messages, False) == bos(tok, template) + training_string(
        template, conv, [])


@pytest.mark.parametrize(("template", "own", "other"), [
    ("Hermes-2", SYSTEM_MESSAGE, SYSTEM_MESSAGE_35),
    ("internvl2_5", SYSTEM_MESSAGE_35, SYSTEM_MESSAGE)])
def test_each_template_carries_its_own_system_message(template, own, other):
    text = chat_template(template)
    assert own in text and other not in text


def test_bos_only_for_bos_templates():
    assert set(BOS_TEMPLATES) == {"internlm2-chat", "phi3-chat"}
    for template in ("Hermes-2", "internvl2_5"):
        assert "bos_token" not in chat_template(template)
    for template in BOS_TEMPLATES:
        assert chat_template(template).startswith("{{ bos_token")


def test_internvl2_5_explicit_system_and_image_first_content_is_spec_4_1():
    """Spec internvl35.md §4.1 with the native processor's image placeholder (§4.3)."""
    tok = build_tiny_tokenizer("qwen3")
    messages = [{"role": "system", "content": SYSTEM_MESSAGE_35},
                {"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": "Is there a road?"}]}]
    assert render(tok, "internvl2_5", messages, True) == (
        f"<|im_start|>system\n{SYSTEM_MESSAGE_35}<|im_end|>\n<|im_start|>user\n<IMG_CONTEXT>\n"
        "Is there a road?<|im_end|>\n<|im_start|>assistant\n")
    own = render(tok, "internvl2_5", [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "q"}], True)
    assert own.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nq")
    assert SYSTEM_MESSAGE_35 not in own


def test_unsupported_role_is_an_error():
    tok = build_tiny_tokenizer("qwen3")
    with pytest.raises(Exception, match="unsupported role tool"):
        render(tok, "internvl2_5", [{"role": "user", "content": "q"},
                                    {"role": "tool", "content": "x"}], True)


def test_converted_internvl35_checkpoint_carries_the_3_5_system_message(tmp_path):
    from transformers import AutoTokenizer

    from internvl_da.model.convert import convert_to_native
    from internvl_da.released import write_tiny_original

    write_tiny_original("qwen3", 3, tmp_path / "orig")
    convert_to_native(tmp_path / "orig", tmp_path / "native")
    jinja = (tmp_path / "native" / "chat_template.jinja").read_text()
    assert jinja == chat_template("internvl2_5") and SYSTEM_MESSAGE_35 in jinja
    tok = AutoTokenizer.from_pretrained(tmp_path / "native")
    text = tok.apply_chat_template([{"role": "user", "content": "q"}],
                                   add_generation_prompt=True, tokenize=False)
    assert text == build_generation_prompt("internvl2_5", "q", [])
