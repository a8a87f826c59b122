"""Model sizes: one plain dict, keyed by the same words as params.yaml and the Makefile.

Spec training.md §3 (templates per size), §16.2 (LoRA targets), §18.8 (tied embeddings).
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
    hub_id: str | None  # original InternVL2 checkpoint (converted with `internvl-da convert`)
    revision: str | None  # pinned hub revision; None = pin it before the first real run
    template: str
    llm_family: str  # qwen2 | llama (converted InternLM2) | phi3
    tie_word_embeddings: bool
    tokens_per_tile: int
    image_size: int


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec("tiny", None, None, "Hermes-2", "qwen2", True, 4, 64),
    "tiny-llama": SizeSpec("tiny-llama", None, None, "internlm2-chat", "llama", False, 4, 64),
    "tiny-phi3": SizeSpec("tiny-phi3", None, None, "phi3-chat", "phi3", False, 4, 64),
    "1b": SizeSpec("1b", "OpenGVLab/InternVL2-1B", None, "Hermes-2", "qwen2", True, 256, 448),
    "2b": SizeSpec("2b", "OpenGVLab/InternVL2-2B", None, "internlm2-chat", "llama", False, 256,
                   448),
    "4b": SizeSpec("4b", "OpenGVLab/InternVL2-4B", None, "phi3-chat", "phi3", False, 256, 448),
}


def get_size(name: str) -> SizeSpec:
    try:
        return SIZES[name]
    except KeyError:
        raise ValueError(f"unknown model size {name!r}; choose from {sorted(SIZES)}") from None
