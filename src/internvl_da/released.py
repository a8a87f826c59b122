"""The released DA checkpoints as a baseline (evaluation.md §9): fetch + convert, or for size
tiny a random stand-in written in the ORIGINAL InternVL2 layout and converted by the same
`convert` path, so that the default pipeline exercises the baseline stages end to end.

Evaluating the released checkpoints with the project's evaluators separates evaluation drift
from training drift: report rows `released-<domain>` next to the paper and our fine-tunes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from internvl_da.prep.meta import DOMAINS

# The benchmarks each released checkpoint is evaluated on (evaluation.md §1).
BENCHMARKS = {"drivelm": ("drivelm", "mme-realworld"), "medical": ("gmai",),
              "remote": ("rsvqa-lr", "rsvqa-hr-test1", "rsvqa-hr-test2", "dior-rsvg")}
# The original checkpoints' LLM architecture and template per tiny family (convert.FAMILIES).
_ORIGINAL = {"qwen2": ("qwen2", "Qwen2ForCausalLM", "Hermes-2"),
             "llama": ("internlm2", "InternLM2ForCausalLM", "internlm2-chat"),
             "phi3": ("phi3", "Phi3ForCausalLM", "phi3-chat"),
             # InternVL3.5 in InternVL's own layout (internvl_hf2custom.py, spec internvl35.md
             # §3.5): what users bring from InternVL's training code; `convert` makes it native.
             "qwen3": ("qwen3", "Qwen3ForCausalLM", "internvl2_5")}


def model_name(domain: str) -> str:
    """The results / models folder name of the released checkpoint of `domain`."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose from {DOMAINS}")
    return f"released-{domain}"


def _original_config(model, template: str, arch: str, family: str) -> dict:
    """config.json of the original InternVL2 layout (InternVLChatModel) for a tiny model."""
    text, vision = model.config.text_config, model.config.vision_config
    llm = {k: v for k, v in text.to_dict().items() if k != "model_type"}
    llm["architectures"] = [arch]
    if family == "internlm2":
        llm["bias"] = llm.pop("attention_bias")
    return {"architectures": ["InternVLChatModel"], "force_image_size": vision.image_size[0],
            "downsample_ratio": 0.5, "template": template, "select_layer": -1,
            "llm_config": llm,
            "vision_config": {
                "hidden_size": vision.hidden_size, "num_hidden_layers": vision.num_hidden_layers,
                "num_attention_heads": vision.num_attention_heads,
                "intermediate_size": vision.intermediate_size,
                "image_size": vision.image_size[0], "patch_size": vision.patch_size[0],
                "qkv_bias": vision.attention_bias, "qk_normalization": False,
                "layer_norm_eps": vision.layer_norm_eps, "norm_type": "layer_norm",
                "hidden_act": vision.hidden_act, "initializer_factor": 1.0}}


def write_tiny_original(llm_family: str, seed: int, out: Path) -> Path:
    """A random tiny InternVL2 in the original layout (one safetensors file + config +
    tokenizer), the stand-in of a released checkpoint."""
    from safetensors.torch import save_file

    from internvl_da.model.convert_keys import Heads, to_original
    from internvl_da.model.tiny import build_tiny_model

    model, tokenizer = build_tiny_model(llm_family, seed=seed)
    family, arch, template = _ORIGINAL[llm_family]
    state = dict(model.state_dict())
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight")
    text = model.config.text_config
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    heads = Heads(text.num_attention_heads, text.num_key_value_heads, head_dim)  # Qwen3: fixed
    tensors = {k: v.contiguous() for k, v in to_original(state, family, heads).items()}
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, out / "model.safetensors")
    config = _original_config(model, template, arch, family)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    tokenizer.save_pretrained(out)
    return out


def tiny_released(llm_family: str, seed: int, out: str | Path) -> None:
    """models/tiny/released-<domain>: the stand-in, converted to native by `convert`."""
    from internvl_da.model.convert import convert_to_native

    with tempfile.TemporaryDirectory() as tmp:
        source = write_tiny_original(llm_family, seed, Path(tmp) / "original")
        print(convert_to_native(source, out))


def write_tiny_native_base(seed: int, out: str | Path, llm_family: str = "qwen3") -> Path:
    """The tiny InternVL3.5 base, `models/<tiny>/base` of family internvl3.5: a random
    `build_tiny_model("qwen3")` saved NATIVELY (safetensors, tokenizer with the internvl2_5
    chat template, image processor), the stand-in of an `-HF` hub folder, which needs no
    `convert` (spec internvl35.md §2); checked as `hub.fetch_native` checks a download."""
    from internvl_da.model.hub import check_native_folder
    from internvl_da.model.processor import chat_template, save_image_processor
    from internvl_da.model.tiny import TINY_FAMILIES, build_tiny_model

    model, tokenizer = build_tiny_model(llm_family, seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    template = TINY_FAMILIES[llm_family]
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.chat_template = chat_template(template)
    tokenizer.save_pretrained(out)
    save_image_processor(out, size=model.config.vision_config.image_size[0])
    check_native_folder(out)
    return out
