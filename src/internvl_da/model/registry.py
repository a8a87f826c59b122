"""Model sizes: one plain dict, keyed by the same words as params.yaml and the Makefile.

Spec training.md §3 (templates per size), §16.2 (LoRA targets), §18.8 (tied embeddings);
InternVL3.5: spec internvl35.md §2–§4, §8. The (family, size) view of these entries, the words
the pipeline uses (`family: internvl2 | internvl3.5` x `size: tiny | 1b | 2b | 4b`), is
model/families.py; InternVL2 keeps its bare size keys (the paper's family, the default).
LoRA targets are regexes anchored on the sub-model, so LLM targets never wrap the vision
tower's q/k/v projections, and Phi-3's fused `qkv_proj` / `gate_up_proj` are included.
"""

from __future__ import annotations

from dataclasses import dataclass

_LLM_MODULES = r"(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj|qkv_proj|gate_up_proj)"
LLM_LORA_TARGETS = rf".*language_model.*\.{_LLM_MODULES}"
VIT_LORA_TARGETS = r".*vision_tower.*\.(q_proj|k_proj|v_proj|projection_layer|fc1|fc2)"


@dataclass(frozen=True)
class SizeSpec:
    name: str
    hub_id: str | None  # InternVL2: original checkpoint (`internvl-da convert`); 3.5: -HF
    revision: str | None  # pinned hub revision; None = pin it before the first real run
    template: str
    llm_family: str  # qwen2 | llama (converted InternLM2) | phi3 | qwen3
    tie_word_embeddings: bool
    tokens_per_tile: int
    image_size: int
    family: str = "internvl2"  # internvl2 | internvl3.5
    native_on_hub: bool = False  # the hub checkpoint is already native (-HF): no convert
    max_dynamic_patch: int = 12  # training tiles (+ thumbnail): dynamic_preprocess max_num
    use_thumbnail: bool = True
    llm: str = ""  # the LLM it is built on, for tables


_35 = dict(family="internvl3.5", native_on_hub=True)


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec("tiny", None, None, "Hermes-2", "qwen2", True, 4, 64),
    "tiny-llama": SizeSpec("tiny-llama", None, None, "internlm2-chat", "llama", False, 4, 64),
    "tiny-phi3": SizeSpec("tiny-phi3", None, None, "phi3-chat", "phi3", False, 4, 64),
    "1b": SizeSpec("1b", "OpenGVLab/InternVL2-1B", None, "Hermes-2", "qwen2", True, 256, 448,
                   llm="Qwen2-0.5B-Instruct"),
    "2b": SizeSpec("2b", "OpenGVLab/InternVL2-2B", None, "internlm2-chat", "llama", False, 256,
                   448, llm="internlm2-chat-1_8b"),
    "4b": SizeSpec("4b", "OpenGVLab/InternVL2-4B", None, "phi3-chat", "phi3", False, 256, 448,
                   llm="Phi-3-mini-128k-instruct"),
    # InternVL3.5: InternViT-300M + Qwen3, untied head, template internvl2_5, 256 tokens per
    # 448 px tile, 12 tiles + thumbnail (spec internvl35.md §1-§4, §8). The 1B revision is the
    # one whose stored parameter count the spec cites (§3.1); 2B/4B: pin before a real run.
    "tiny-qwen3": SizeSpec("tiny-qwen3", None, None, "internvl2_5", "qwen3", False, 4, 64,
                           **_35, llm="tiny Qwen3"),
    "internvl3.5-1b": SizeSpec("internvl3.5-1b", "OpenGVLab/InternVL3_5-1B-HF",
                               "9191dbccf312b537016f041b25d61c72e7c5c9f3", "internvl2_5", "qwen3",
                               False, 256, 448, **_35, llm="Qwen3-0.6B"),
    "internvl3.5-2b": SizeSpec("internvl3.5-2b", "OpenGVLab/InternVL3_5-2B-HF", None, "internvl2_5",
                               "qwen3", False, 256, 448, **_35, llm="Qwen3-1.7B"),
    "internvl3.5-4b": SizeSpec("internvl3.5-4b", "OpenGVLab/InternVL3_5-4B-HF", None, "internvl2_5",
                               "qwen3", False, 256, 448, **_35, llm="Qwen3-4B"),
}


def get_size(name: str) -> SizeSpec:
    try:
        return SIZES[name]
    except KeyError:
        raise ValueError(f"unknown model size {name!r}; choose from {sorted(SIZES)}") from None
