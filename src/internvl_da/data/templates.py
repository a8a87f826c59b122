"""The conversation templates and their label masks: the three InternVL2 ones (spec
training.md §11–12) and InternVL3.5's `internvl2_5` (spec internvl35.md §4–5, whose masks are
built by data/internvl2_5.py: each turn tokenized alone, as `preprocess_internvl2_5`).

Reference: `internvl_chat/internvl/conversation.py` (separator style MPT: system block + sep,
then `role + message + sep` per turn, NO newline after the separator) and the preprocess
functions of `internvl_chat/internvl/train/dataset.py`.

Ids are built per segment (BOS, system block + sep, user header + content, sep + assistant
header, answer + sep) and labels per segment: only each answer and its closing separator are
trained. The reference instead re-tokenizes and recomputes offsets, and silently masks the
whole sample on any mismatch; `verify_against_full_string` asserts that our segment ids equal
whole-string tokenization. Each text segment is tokenized as it follows a special token (see
`_encode`), so SentencePiece-style tokenizers do not add a dummy-prefix `▁` to it.

With an `OriginalTokenizer` (model/original_tokenizer.py: the transformers 4.37.2 slow
tokenizers the released models were trained with) the ids are instead those of the WHOLE
training string, tokenized once, and labels come from the tokens' character spans
(data/whole_string.py): every `lstrip`/`rstrip` flag acts across segment boundaries exactly as
in the reference (Phi-3's `<|user|>` swallows the "\n" after it; `</img>` keeps its "\n").

Decisions (spec §22):
- Answer starting with whitespace (Hermes-2 "\n" edge): the answer is always encoded as its
  own segment, so "assistant\n" + "\nA" gives two newline tokens, the last of them trained.
  This is what the model sees at inference (the prompt ends with the header's newline); a
  whole-string tokenizer may merge the two (Qwen2: `ĊĊ`) and the reference then masks that
  token as prompt. `verify_against_full_string` cuts the whole string at such an answer
  unless `strict=True`. internlm2-chat strips values, so the edge cannot arise there. With an
  OriginalTokenizer the cut is made only for the Qwen2 family (1B, Hermes-2), the one whose
  whole-string ids merge the two newlines; Phi-3's `<|assistant|>` (rstrip) swallows both the
  header's and the answer's leading whitespace in the whole string, and so it does at inference.
- A conversation whose first turn is from gpt loses that turn, as the reference preprocess does
  (`if roles[source[0]['from']] != roles['human']: source = source[1:]`);
  `leading_gpt_turn` tells data checks which records have one.
- phi3-chat `▁` after BOS: the 4B model was trained with the slow SentencePiece tokenizer,
  whose ids are [<s>, ▁, <|system|>, ...]; transformers 5 drops that `▁`. The encoder emits
  it itself whenever the tokenizer adds BOS and has a `▁` token, both for training and for
  generation (`encode_generation_prompt`), independent of the tokenizer's quirk, so ids match
  what the model was trained on. A Phi-3 model trained without it would use
  `dataclasses.replace(TEMPLATES["phi3-chat"], space_after_bos=False)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from internvl_da.data import internvl2_5
from internvl_da.data.errors import SampleError, TruncationError
from internvl_da.data.tokens import (  # expand_image_tags: also imported from here
    IGNORE_INDEX,
    IMAGE_TAG,
    IMG_CONTEXT,
    IMG_END,
    IMG_START,
    expand_image_tags,
)
from internvl_da.data.whole_string import encode_parts, is_original_tokenizer

# Byte-exact (full-width comma after 大模型, ASCII ", " after InternVL).
SYSTEM_MESSAGE = (
    "你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, "
    "是一个有用无害的人工智能助手。"
)
# internvl2_5 (InternVL2.5/3/3.5): 58 characters, 157 UTF-8 bytes; `·` U+00B7, full-width
# commas U+FF0C, `、` U+3001, `。` U+3002 (spec internvl35.md §4.1). It also switches
# InternVL3.5's thinking mode off (§4.3, InternVL#1141).
SYSTEM_MESSAGE_35 = (
    "你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位"
    "联合开发的多模态大语言模型。"
)
SENTENCEPIECE_SPACE = "▁"
# Tokenizer families whose whole-string ids merge "assistant\n" + "\n..." (spec §22).
NEWLINE_EDGE_FAMILIES = frozenset({"qwen2"})


@dataclass(frozen=True)
class Template:
    name: str
    system_template: str  # contains "{system_message}"
    user: str
    assistant: str
    sep: str
    strip_values: bool = False  # internlm2-chat strips every turn value
    space_after_bos: bool = False  # phi3-chat: the slow tokenizer's `▁` after BOS
    system_message: str = SYSTEM_MESSAGE
    preprocess: str = "internvl2"  # internvl2_5: per-turn masks of data/internvl2_5.py

    @property
    def system_block(self) -> str:
        return self.system_template.format(system_message=self.system_message)

    @property
    def stop_token(self) -> str:
        """Generation stops at this token (reference: `template.sep.strip()`)."""
        return self.sep.strip()


TEMPLATES: dict[str, Template] = {
    "Hermes-2": Template(
        "Hermes-2", "<|im_start|>system\n{system_message}", "<|im_start|>user\n",
        "<|im_start|>assistant\n", "<|im_end|>",
    ),
    "internlm2-chat": Template(
        "internlm2-chat", "<|im_start|>system\n{system_message}", "<|im_start|>user\n",
        "<|im_start|>assistant\n", "<|im_end|>", strip_values=True,
    ),
    "phi3-chat": Template(
        "phi3-chat", "<|system|>\n{system_message}", "<|user|>\n", "<|assistant|>\n", "<|end|>",
        space_after_bos=True,
    ),
    # InternVL3.5 (Qwen3): `--conv_style internvl2_5` in every internvl3_5_qwen3 SFT script
    # (InternVL#1122); MPT style with a separator that ENDS in "\n" (spec internvl35.md §4.1).
    "internvl2_5": Template(
        "internvl2_5", "<|im_start|>system\n{system_message}", "<|im_start|>user\n",
        "<|im_start|>assistant\n", "<|im_end|>\n", system_message=SYSTEM_MESSAGE_35,
        preprocess="internvl2_5",
    ),
}


def get_template(template: str | Template) -> Template:
    if isinstance(template, Template):
        return template
    try:
        return TEMPLATES[template]
    except KeyError:
        choices = sorted(TEMPLATES)
        raise ValueError(f"unknown template {template!r}; choose from {choices}") from None


def _fail(reason: str, source: str, line: int | None) -> SampleError:
    return SampleError(source, line, reason)


def leading_gpt_turn(conversations: Sequence[dict]) -> bool:
    """True if the first turn is from gpt: the reference drops it (`source = source[1:]`)."""
    return bool(conversations) and isinstance(conversations[0], dict) and \
        conversations[0].get("from") == "gpt"


def _checked_turns(
    conversations: Sequence[dict], num_images: int, template: Template, source: str,
    line: int | None,
) -> list[tuple[str, str]]:
    """(question, answer) pairs with the single-image tag rule and tag counts checked."""
    if leading_gpt_turn(conversations):
        conversations = conversations[1:]
    if not conversations or len(conversations) % 2:
        raise _fail("conversation must be human/gpt pairs ending with a gpt answer", source, line)
    pairs = []
    for i in range(0, len(conversations), 2):
        q, a = conversations[i], conversations[i + 1]
        if q.get("from") != "human" or a.get("from") != "gpt":
            raise _fail(f"turn {i + 1}: roles must alternate human/gpt, got "
                        f"{q.get('from')!r}/{a.get('from')!r}", source, line)
        question, answer = q.get("value"), a.get("value")
        if not isinstance(question, str) or not isinstance(answer, str):
            raise _fail(f"turn {i + 1}: values must be strings", source, line)
        if not answer.strip():
            raise _fail(f"turn {i + 2}: empty answer", source, line)
        if IMAGE_TAG in answer:  # the reference would train on the image tokens as targets
            raise _fail(f"turn {i + 2}: <image> tag in a gpt answer", source, line)
        pairs.append((question, answer))
    tags = sum(q.count(IMAGE_TAG) for q, _ in pairs)
    if num_images == 1 and tags == 0:
        pairs[0] = (IMAGE_TAG + "\n" + pairs[0][0], pairs[0][1])  # reference: prepend for 1 image
        tags = 1
    if tags != num_images:
        raise _fail(f"{tags} <image> tags for {num_images} images", source, line)
    if template.strip_values:  # after the tag insertion, as the reference
        pairs = [(q.strip(), a.strip()) for q, a in pairs]
    return pairs


def _encode(tokenizer, text: str, anchor: str) -> list[int]:
    """Ids of `text` as it tokenizes right after the special token `anchor` in a prompt.

    SentencePiece-style tokenizers (Metaspace, prepend "first": InternLM2/Phi-3 in
    transformers 5) give a text alone a leading `▁` that it never has inside the whole
    prompt, where every segment follows a special token or a header's newline.
    """
    if not text:
        return []
    ids = tokenizer.encode(anchor + text, add_special_tokens=False)
    anchor_id = tokenizer.convert_tokens_to_ids(anchor)
    if not ids or ids[0] != anchor_id:
        raise ValueError(f"the tokenizer does not treat {anchor!r} as one special token")
    return ids[1:]


def _encode_content(tokenizer, text: str, counts: list[int], anchor: str) -> list[int]:
    """Tokenize text whose `<image>` tags become image blocks; pops the counts it uses."""
    pieces = text.split(IMAGE_TAG)
    ids = _encode(tokenizer, pieces[0], anchor)
    block_start, block_end = (_encode(tokenizer, t, anchor) for t in (IMG_START, IMG_END))
    context_id = tokenizer.convert_tokens_to_ids(IMG_CONTEXT)
    for piece in pieces[1:]:  # each piece follows `</img>`, a special token
        ids += block_start + [context_id] * counts.pop(0) + block_end
        ids += _encode(tokenizer, piece, anchor)
    return ids


def _prefix_ids(tokenizer, template: Template) -> list[int]:
    """BOS if the tokenizer adds one, then `▁` for phi3-chat when the vocabulary has it."""
    prefix = list(tokenizer.encode("", add_special_tokens=True))
    if template.space_after_bos and prefix:
        space = tokenizer.convert_tokens_to_ids(SENTENCEPIECE_SPACE)
        if space not in (None, tokenizer.unk_token_id) and prefix[-1] != space:
            prefix.append(space)  # unless the tokenizer has the slow tokenizer's quirk itself
    return prefix


def _segments(tokenizer, template: Template, pairs, counts: list[int]):
    """Yield (ids, trained) per segment of the training string.

    The user header and content form one masked segment (both untrained, and a content
    starting with a newline then tokenizes exactly as in the whole string).
    """
    sep = template.sep
    yield _prefix_ids(tokenizer, template), False
    yield _encode(tokenizer, template.system_block + sep, sep), False
    for question, answer in pairs:
        yield _encode_content(tokenizer, template.user + question, counts, sep), False
        yield _encode(tokenizer, sep + template.assistant, sep), False
        yield _encode_content(tokenizer, answer + sep, counts, sep), True


def encode_conversation(
    tokenizer,
    template: str | Template,
    conversations: Sequence[dict],
    image_token_counts: Sequence[int],
    max_length: int | None = None,
    *,
    source: str = "<conversation>",
    line: int | None = None,
) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 outside answers) of one training conversation."""
    tpl = get_template(template)
    counts = [int(c) for c in image_token_counts]
    if tpl.preprocess == "internvl2_5":
        system, turns = internvl2_5.checked_turns(conversations, len(counts), tpl.system_message,
                                                  source, line)
        input_ids, labels = internvl2_5.encode(tokenizer, system, turns, counts)
        return _maybe_truncate(tokenizer, input_ids, labels, max_length, len(counts), source,
                               line)
    pairs = _checked_turns(conversations, len(image_token_counts), tpl, source, line)
    if is_original_tokenizer(tokenizer):
        input_ids, labels = _encode_whole(tokenizer, tpl, pairs, counts)
    else:
        input_ids, labels = [], []
        for ids, trained in _segments(tokenizer, tpl, pairs, counts):
            input_ids += ids
            labels += ids if trained else [IGNORE_INDEX] * len(ids)
    return _maybe_truncate(tokenizer, input_ids, labels, max_length, len(image_token_counts),
                           source, line)


def _maybe_truncate(tokenizer, input_ids, labels, max_length, num_images, source, line):
    if max_length is not None and len(input_ids) > max_length:
        return _truncate(tokenizer, input_ids, labels, max_length, num_images, source, line)
    return input_ids, labels


def _cuts_answer(tokenizer, answer: str, strict: bool = False) -> bool:
    """Whether the answer is tokenized apart from the header before it (the newline edge)."""
    if strict or not answer[:1].isspace():
        return False
    return not is_original_tokenizer(tokenizer) or tokenizer.family in NEWLINE_EDGE_FAMILIES


def _whole_parts(template: Template, pairs, counts: list[int]) -> list[tuple[str, bool]]:
    """(text, trained) parts of the training string, image tags expanded in order."""
    parts = [(template.system_block + template.sep, False)]
    for question, answer in pairs:
        used = question.count(IMAGE_TAG)
        question = expand_image_tags(question, counts[:used])
        del counts[:used]
        parts.append((template.user + question + template.sep + template.assistant, False))
        parts.append((answer + template.sep, True))
    return parts


def _encode_whole(tokenizer, template: Template, pairs, counts: list[int]):
    """Whole-string ids and span labels with an OriginalTokenizer (data/whole_string.py)."""
    parts = _whole_parts(template, pairs, counts)
    cuts = {2 + 2 * k for k, (_, answer) in enumerate(pairs) if _cuts_answer(tokenizer, answer)}
    return encode_parts(tokenizer, parts, cuts)


def _truncate(tokenizer, input_ids, labels, max_length, num_images, source, line):
    # Reference: tail truncation is kept; a cut through an image block fails its </img> assert.
    input_ids, labels = input_ids[:max_length], labels[:max_length]
    end_id = tokenizer.convert_tokens_to_ids(IMG_END)
    if input_ids.count(end_id) < num_images:
        raise TruncationError(source, line, f"max_length {max_length} cuts an image block")
    if all(label == IGNORE_INDEX for label in labels):
        raise TruncationError(source, line, f"max_length {max_length} leaves no answer token")
    return input_ids, labels


def training_string(template: str | Template, conversations: Sequence[dict],
                    image_token_counts: Sequence[int]) -> str:
    """The whole training prompt as one string (what the reference tokenizes at once)."""
    tpl = get_template(template)
    if tpl.preprocess == "internvl2_5":
        system, turns = internvl2_5.checked_turns(conversations, len(image_token_counts),
                                                  tpl.system_message, "<conversation>", None)
        return internvl2_5.training_text(system, turns, image_token_counts)
    pairs = _checked_turns(conversations, len(image_token_counts), tpl, "<conversation>", None)
    text = tpl.system_block + tpl.sep
    for question, answer in pairs:
        text += tpl.user + question + tpl.sep + tpl.assistant + answer + tpl.sep
    return expand_image_tags(text, image_token_counts)


def verify_against_full_string(tokenizer, template: str | Template, conversations,
                               image_token_counts, *, strict: bool = False) -> None:
    """Raise AssertionError if the segment-wise ids differ from whole-string tokenization.

    Two differences are by design: phi3-chat's `▁` after BOS (inserted into the whole-string
    ids when the tokenizer lacks the quirk), and unless `strict`, an answer that starts with
    whitespace is tokenized apart from the header's newline before it (the whole string is
    cut there; all other text is compared as one string).
    """
    tpl = get_template(template)
    ids, _ = encode_conversation(tokenizer, tpl, conversations, image_token_counts)
    if tpl.preprocess == "internvl2_5":  # every turn starts at a special token: no cut
        whole = internvl2_5.bos_ids(tokenizer) + list(tokenizer.encode(
            training_string(tpl, conversations, image_token_counts), add_special_tokens=False))
        return _compare(tokenizer, ids, whole)
    pairs = _checked_turns(conversations, len(image_token_counts), tpl, "<conversation>", None)
    chunks = [tpl.system_block + tpl.sep]
    original = is_original_tokenizer(tokenizer)
    for question, answer in pairs:
        chunks[-1] += tpl.user + question + tpl.sep + tpl.assistant
        if _cuts_answer(tokenizer, answer, strict):
            chunks.append(answer + tpl.sep)
        else:
            chunks[-1] += answer + tpl.sep
    counts = list(image_token_counts)
    whole: list[int] = []
    for i, chunk in enumerate(chunks):
        used = chunk.count(IMAGE_TAG)
        chunk = expand_image_tags(chunk, counts[:used])
        del counts[:used]
        if i == 0 or original:  # the original tokenizer's ids are whole-string ids
            whole += tokenizer.encode(chunk, add_special_tokens=i == 0)
        else:
            whole += _encode(tokenizer, chunk, tpl.sep)
    prefix = [] if original else _prefix_ids(tokenizer, tpl)
    if len(prefix) == 2 and whole[1:2] != prefix[1:]:  # quirk-less tokenizer: add the `▁`
        whole.insert(1, prefix[1])
    _compare(tokenizer, ids, whole)


def _compare(tokenizer, ids: list[int], whole: list[int]) -> None:
    if ids != whole:
        at = next((i for i, (a, b) in enumerate(zip(ids, whole, strict=False)) if a != b),
                  min(len(ids), len(whole)))
        raise AssertionError(f"segment ids differ from whole-string ids at position {at}: "
                             f"{tokenizer.convert_ids_to_tokens(ids[at:at + 3])} vs "
                             f"{tokenizer.convert_ids_to_tokens(whole[at:at + 3])}")


def build_generation_prompt(template: str | Template, question: str,
                            image_token_counts: Sequence[int]) -> str:
    """Inference prompt of `model.chat` (evaluation.md §2.2), image tags expanded."""
    tpl = get_template(template)
    if image_token_counts and IMAGE_TAG not in question:
        question = IMAGE_TAG + "\n" + question
    tags = question.count(IMAGE_TAG)
    if tags != len(image_token_counts):
        raise ValueError(f"{tags} <image> tags for {len(image_token_counts)} images")
    text = tpl.system_block + tpl.sep + tpl.user + question + tpl.sep + tpl.assistant
    return expand_image_tags(text, image_token_counts)


def encode_generation_prompt(tokenizer, template: str | Template, question: str,
                             image_token_counts: Sequence[int]) -> list[int]:
    """Ids of the inference prompt with the same BOS (and phi3 `▁`) as the training ids."""
    tpl = get_template(template)
    text = build_generation_prompt(tpl, question, image_token_counts)
    if is_original_tokenizer(tokenizer):  # whole-string ids, BOS (and Phi-3's `▁`) native
        return tokenizer.encode(text, add_special_tokens=True)
    return _prefix_ids(tokenizer, tpl) + _encode(tokenizer, text, tpl.stop_token)
