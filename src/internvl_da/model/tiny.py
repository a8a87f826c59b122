"""The tiny in-process tokenizer (tests and the CPU demo; no hub, no files).

A byte-level BPE trained on a fixed embedded corpus, carrying the InternVL special tokens and
the chat tokens of each template. Three families mirror the real LLMs' conventions:
`qwen2` (Hermes-2, no BOS), `llama` (InternLM2 converted to Llama: internlm2-chat, BOS `<s>`)
and `phi3` (phi3-chat, BOS `<s>`, plus the SentencePiece `▁` token the real slow Phi-3
tokenizer emits after BOS; see data/templates.py).
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from internvl_da.data import tokens
from internvl_da.data.templates import SYSTEM_MESSAGE

TINY_FAMILIES = {"qwen2": "Hermes-2", "llama": "internlm2-chat", "phi3": "phi3-chat"}

# Fixed ids 0..N-1, in this order, for every family (the model side relies on them).
SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    *tokens.INTERNVL_SPECIAL_TOKENS,
    "<video>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
)
SENTENCEPIECE_SPACE = "▁"  # an ordinary vocabulary entry in the phi3 family
VOCAB_SIZE = 700

_CORPUS = (
    SYSTEM_MESSAGE,
    "yes no Yes No 0 1 2 3 4 5 6 7 8 9 10 11 12 100 1000 0m2 12m2 350m2 1234m2",
    "red green blue yellow white black orange purple gray colour color",
    "circle square triangle rectangle shape shapes object objects",
    "car truck pedestrian bus vehicle vehicles road building buildings water tree trees",
    "rural urban area residential commercial farmland parking lot bridge overpass airport",
    "left right front back ego moving parked stationary stop turn go straight accelerate",
    "CAM_FRONT CAM_FRONT_LEFT CAM_FRONT_RIGHT CAM_BACK CAM_BACK_LEFT CAM_BACK_RIGHT",
    "<c1,CAM_FRONT,[512.3,250.0]> <c2,CAM_BACK,[120.5,730.0]> <c3,CAM_FRONT_LEFT,[88.0,91.5]>",
    "<c1,CAM_FRONT,1088.3,497.5> <c4,CAM_BACK_RIGHT,1600.0,0.0>",
    "Detect the red circle on the left. <ref>the blue square</ref><box>[[12, 340, 560, 999]]</box>",
    "Answer the question using a single word or phrase.",
    "Answer with the option's letter from the given choices directly.",
    "Select the best answer to the above multiple-choice question based on the image.",
    "Respond with only the letter (A, B, C, D, or E) of the correct option. The best answer is:",
    "(A) (B) (C) (D) (E) A. B. C. D. E. A B C D E",
    "Is there a red shape? How many squares are there? Are there more red than blue shapes?",
    "Is the area rural or urban? What is the area covered by buildings?",
    "What are the important objects in the current scene? There is a red car to the front of "
    "the ego vehicle. What is the moving status of object? What should the ego vehicle do?",
    "CT MRI X-ray ultrasound lesion organ liver lung kidney heart brain tumor fracture normal "
    "abnormal chest abdomen modality scan image shows which",
    "What is in the image? Describe the image. The image shows a scene with several objects.",
    "Image-1: Image-2: Compare them. The second image is darker.",
)


def _train_bpe(family: str) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(_CORPUS) * 3, trainer=trainer)
    if family == "phi3":
        tok.add_tokens([SENTENCEPIECE_SPACE])
    if family in ("llama", "phi3"):  # the real tokenizers prepend BOS
        bos_id = SPECIAL_TOKENS.index("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
        )
    return tok


def build_tiny_tokenizer(family: str = "qwen2") -> PreTrainedTokenizerFast:
    """A deterministic tiny tokenizer for `family` in TINY_FAMILIES (< 1 s, no files)."""
    if family not in TINY_FAMILIES:
        raise ValueError(f"unknown tiny family {family!r}; choose from {sorted(TINY_FAMILIES)}")
    eos = "<|end|>" if family == "phi3" else "<|im_end|>"
    return PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(family),
        bos_token="<s>" if family != "qwen2" else None,
        eos_token=eos,
        pad_token="<|endoftext|>",
        model_max_length=8192,
        extra_special_tokens={
            "start_image_token": tokens.IMG_START,
            "end_image_token": tokens.IMG_END,
            "context_image_token": tokens.IMG_CONTEXT,
            "video_token": "<video>",
        },
    )
