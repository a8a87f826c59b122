"""The tiny in-process tokenizer (tests and the CPU demo; no hub, no files).

A small BPE trained on a fixed embedded corpus, carrying the InternVL special tokens and the
chat tokens of each template at the same fixed ids 0..N-1 in every family. The families mirror
how transformers 5 tokenizes with the real LLMs' tokenizers:
- `qwen2` (Hermes-2, no BOS): byte-level BPE behind Qwen2's split regex (digits one by one,
  newline runs kept apart from the following text).
- `qwen3` (InternVL3.5: internvl2_5, no BOS): the same byte-level BPE as Qwen3 shares Qwen2's
  pre-tokenizer and merges (stack-notes.md §3.4), trained with the 3.5 system message too, plus
  Qwen3's `<think>` / `</think>` as added tokens after the learned ones. Its model
  (`tiny_config`) has Qwen3's traits that code must not assume away: `head_dim` independent of
  hidden/heads, q/k RMSNorms, an untied LM head (spec internvl35.md §1 items 1 and 6).
- `llama` (InternLM2 converted to Llama: internlm2-chat, BOS `<s>`) and `phi3` (phi3-chat, BOS
  `<s>`): SentencePiece-style BPE as transformers' `LlamaTokenizer` builds it: `Metaspace`
  (`▁` for spaces, prepended only at the very start of the input), byte fallback `<0x..>`.
  Encoding a text segment alone therefore gains a leading `▁` that the same text inside the
  whole prompt does not have; data/templates.py encodes segments so that it never appears.
"""

from __future__ import annotations

import json

from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

from internvl_da.data import tokens
from internvl_da.data.templates import SYSTEM_MESSAGE, SYSTEM_MESSAGE_35

TINY_FAMILIES = {"qwen2": "Hermes-2", "llama": "internlm2-chat", "phi3": "phi3-chat",
                 "qwen3": "internvl2_5"}
BYTE_LEVEL = frozenset({"qwen2", "qwen3"})
NO_BOS = BYTE_LEVEL  # Qwen tokenizers add no BOS (spec internvl35.md §5 rule 4)
QWEN3_EXTRA_TOKENS = ("<think>", "</think>")  # real ids 151667/151668 (§3.4)

# Fixed ids 0..N-1, in this order, for every family (the model side relies on them).
SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    *tokens.INTERNVL_SPECIAL_TOKENS,
    "<video>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
)
VOCAB_SIZE = 1024  # about; SentencePiece-style families: 256 byte tokens + learned pieces
# Qwen2's tokenizer.json pre-tokenizer regex (applied before the byte-level mapping).
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

_CORPUS = (
    SYSTEM_MESSAGE,
    "yes no Yes No Yes. No. 0 1 2 3 4 5 6 7 8 9 10 11 12 100 1000 0m2 12m2 350m2 1234m2",
    "red green blue yellow white black orange purple gray colour color Red Blue Yellow Green",
    "circle square triangle rectangle shape shapes object objects circles squares triangles",
    "car truck pedestrian bus vehicle vehicles road building buildings water tree trees cars",
    "Vehicle Pedestrian Red truck. Blue car. Yellow pedestrian. a truck? a pedestrian? a car?",
    "rural urban area residential commercial farmland parking lot bridge overpass airport",
    "left right front back ego moving parked stationary stop turn go straight accelerate center",
    "CAM_FRONT CAM_FRONT_LEFT CAM_FRONT_RIGHT CAM_BACK CAM_BACK_LEFT CAM_BACK_RIGHT",
    "<c1,CAM_FRONT,[512.3,250.0]> <c2,CAM_BACK,[120.5,730.0]> <c3,CAM_FRONT_LEFT,[88.0,91.5]>",
    "<c1,CAM_FRONT,1088.3,497.5> <c4,CAM_BACK_RIGHT,1600.0,0.0> <c5,CAM_BACK_LEFT,722.5,405.5>",
    "Objects are encoded using <c, CAM, [cx,cy]>, where c is the identifier, CAM indicates the "
    "camera where the object's center point is situated, and x, y represent the horizontal and "
    "vertical coordinates of the center point of the 2D bounding box.",
    "Detect the red circle on the left. <ref>the blue square</ref><box>[[12, 340, 560, 999]]</box>",
    "Answer the question using a single word or phrase.",
    "Answer with the option's letter from the given choices directly.",
    "Select the best answer to the above multiple-choice question based on the image.",
    "Respond with only the letter (A, B, C, D, or E) of the correct option. The best answer is:",
    "(A) (B) (C) (D) (E) A. B. C. D. E. A B C D E All the above answers are wrong.",
    "Is there a red shape? How many squares are there? Are there more red than blue shapes?",
    "Is there a blue circle? Is there a green circle? Is there a red circle? a white circle",
    "Is it a rural or an urban area? What is the area covered by buildings?",
    "What are the important objects in the current scene? There is a red car to the front of "
    "the ego vehicle. What is the colour of the object? Is it moving? Is the truck moving?",
    "What actions should the ego vehicle take? Slow down and stop. Keep going straight.",
    "Predict the behavior of the ego vehicle. The ego vehicle is slowing down.",
    "This image shows the front view of the ego car. How many cars are in the image?",
    "CT MRI X-ray ultrasound lesion organ liver lung kidney heart brain tumor fracture normal "
    "abnormal chest abdomen modality scan image shows which both sides level",
    "Is there a lesion in this CT image? On which side is the lesion? The lesion is on the left. "
    "There is no lesion. Where is the lesion in this MRI image? Lesion Organ",
    "Disease Diagnosis Lesion localisation Oncology Radiology Multiple Choice synthetic",
    "What is in the image? Describe the image. The image shows a scene with several objects.",
    "system user assistant system\nuser\nassistant\n",
    "Name a shape that could be red. A green triangle. Which image has more shapes?",
    "Image-1: Image-2: Compare them. The second image is darker. The first image.",
    "First line.\n\nSecond line.\n\n- item one\n- item two\n  indented\n\nEnd.",
)
# Answers start right after the header's newline, with no space: train these bare forms too.
_ANSWER_STARTS = (
    "yes", "no", "Yes.", "No.", "The", "There", "A", "Slow", "Keep", "rural", "urban",
    "red", "green", "blue", "yellow", "white", "black", "orange", "purple",
)


def _train(family: str) -> Tokenizer:
    byte_level = family in BYTE_LEVEL
    tok = Tokenizer(models.BPE(unk_token=None))
    if byte_level:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:  # train per word; at run time the whole piece is one word, as in LlamaTokenizer
        tok.pre_tokenizer = pre_tokenizers.Metaspace("▁", prepend_scheme="never", split=True)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE if byte_level else VOCAB_SIZE - 256,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if byte_level else [],
        show_progress=False,
    )
    # Llama/Phi-3 vocabularies have no newline piece: "\n" falls back to the byte <0x0A>.
    corpus = _CORPUS if byte_level else tuple(text.replace("\n", " ") for text in _CORPUS)
    if family == "qwen3":  # the other families' vocabularies (and ids) stay as they were
        corpus = (*corpus, SYSTEM_MESSAGE_35, "<think>\n\n</think>\n\n")
    tok.train_from_iterator([*corpus, *_ANSWER_STARTS] * 3, trainer=trainer)
    if byte_level:
        tok.decoder = decoders.ByteLevel()
        return tok
    return _sentencepiece_style(tok)


def _sentencepiece_style(trained: Tokenizer) -> Tokenizer:
    """Rebuild with byte-fallback tokens right after the special ids, as transformers' Llama."""
    model = json.loads(trained.to_str())["model"]
    learned = sorted(model["vocab"].items(), key=lambda kv: kv[1])[len(SPECIAL_TOKENS):]
    names = [*SPECIAL_TOKENS, *(f"<0x{b:02X}>" for b in range(256)), *(t for t, _ in learned)]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(names)}, merges, byte_fallback=True,
                               fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace("▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


def _with_specials(tok: Tokenizer, family: str) -> Tokenizer:
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    if family == "qwen3":  # Qwen3 adds them as (non-special) added tokens
        tok.add_tokens([AddedToken(t, special=False, normalized=False)
                        for t in QWEN3_EXTRA_TOKENS])
    if family not in NO_BOS:  # the real InternLM2 and Phi-3 tokenizers prepend BOS
        bos_id = SPECIAL_TOKENS.index("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
        )
    return tok


def build_tiny_tokenizer(family: str = "qwen2") -> PreTrainedTokenizerFast:
    """A deterministic tiny tokenizer for `family` in TINY_FAMILIES (< 1 s, no files)."""
    if family not in TINY_FAMILIES:
        raise ValueError(f"unknown tiny family {family!r}; choose from {sorted(TINY_FAMILIES)}")
    return PreTrainedTokenizerFast(
        tokenizer_object=_with_specials(_train(family), family),
        bos_token=None if family in NO_BOS else "<s>",
        eos_token="<|end|>" if family == "phi3" else "<|im_end|>",  # the template's separator
        pad_token="<|endoftext|>",
        model_max_length=8192,
        extra_special_tokens={
            "start_image_token": tokens.IMG_START,
            "end_image_token": tokens.IMG_END,
            "context_image_token": tokens.IMG_CONTEXT,
            "video_token": "<video>",
        },
    )


def tiny_config(family: str, tokenizer: PreTrainedTokenizerFast):
    """A ~150k-parameter InternVL config: 64 px tiles of 16 px patches -> 4 tokens per tile.

    qwen3: head_dim 32 with hidden 64 / 4 heads (Qwen3's head_dim is fixed, not hidden/heads:
    the 1B has q_proj 1024 -> 2048) and an untied head, as the real InternVL3.5 (§3.1-§3.2).
    """
    from transformers import (
        InternVLConfig,
        InternVLVisionConfig,
        LlamaConfig,
        Phi3Config,
        Qwen2Config,
        Qwen3Config,
    )

    text_cls = {"qwen2": Qwen2Config, "llama": LlamaConfig, "phi3": Phi3Config,
                "qwen3": Qwen3Config}[family]
    tied = family == "qwen2"  # InternVL2-1B ties; InternVL3.5's Qwen3 head is untied
    extra = {"head_dim": 32} if family == "qwen3" else {}
    text = text_cls(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4 if family == "phi3" else 2,
        max_position_embeddings=4096, tie_word_embeddings=tied,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, **extra,
    )
    vision = InternVLVisionConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        image_size=[64, 64], patch_size=[16, 16], attention_bias=True, use_mean_pooling=True,
        layer_scale_init_value=1.0, norm_type="layer_norm",
    )
    return InternVLConfig(
        vision_config=vision, text_config=text, image_token_id=tokenizer.context_image_token_id,
        downsample_ratio=0.5, vision_feature_layer=-1, vision_feature_select_strategy="default",
        projector_hidden_act="gelu", image_seq_length=4, tie_word_embeddings=tied,
    )


def build_tiny_model(family: str = "qwen2", seed: int = 0):
    """(model, tokenizer): a random tiny InternVL; same seed => identical weight bytes."""
    import torch
    from transformers import InternVLForConditionalGeneration

    tokenizer = build_tiny_tokenizer(family)
    config = tiny_config(family, tokenizer)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = InternVLForConditionalGeneration(config)
    finally:
        torch.random.set_rng_state(state)
    return model.float(), tokenizer
