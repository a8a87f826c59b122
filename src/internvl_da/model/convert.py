"""`internvl-da convert`: original InternVL2 checkpoints <-> native transformers InternVL.

Forward (original -> native) streams shard by shard: each source safetensors file is read,
renamed/split (model/convert_keys.py) and written as one output shard, so memory stays near
one shard. Every source tensor must be consumed exactly once and every native tensor must be
produced with the expected shape; anything else is an error naming the key. The original
config is kept as `internvl_original_config.json` so `--to-internvl` can restore the layout.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from internvl_da.data.tokens import IMG_CONTEXT
from internvl_da.fileio import write_json
from internvl_da.model.convert_keys import Heads, to_native, to_original
from internvl_da.model.processor import chat_template, save_image_processor

FAMILIES = {"Qwen2ForCausalLM": "qwen2", "InternLM2ForCausalLM": "internlm2",
            "Phi3ForCausalLM": "phi3"}
ORIGINAL_CONFIG = "internvl_original_config.json"
# The original checkpoint's remote-code files (modeling_*.py, ...), kept so that `--to-internvl`
# gives tools that load with trust_remote_code (VLMEvalKit) a complete folder. Never imported here.
ORIGINAL_CODE = "internvl_original_code"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json")


@dataclass(frozen=True)
class ConvertSummary:
    family: str
    tensors_in: int
    tensors_out: int
    shards: int

    def __str__(self) -> str:
        return (f"converted {self.tensors_in} tensors -> {self.tensors_out} ({self.family}, "
                f"{self.shards} shard(s))")


def llm_family(original: dict, source: str) -> str:
    archs = original.get("llm_config", {}).get("architectures") or ["?"]
    if archs[0] not in FAMILIES:
        raise ValueError(f"{source}: unsupported LLM architecture {archs[0]!r}; supported: "
                         f"{sorted(FAMILIES)}")
    return FAMILIES[archs[0]]


def internlm2_heads(llm: dict) -> Heads:
    heads = llm["num_attention_heads"]
    return Heads(heads, llm.get("num_key_value_heads", heads), llm["hidden_size"] // heads)


def text_config(llm: dict, family: str):
    """The native text config: InternLM2 becomes Llama; Phi-3's `su` RoPE becomes longrope."""
    from transformers import LlamaConfig, Phi3Config, Qwen2Config

    keep = {k: v for k, v in llm.items() if k not in ("architectures", "auto_map", "model_type",
                                                      "_name_or_path", "transformers_version")}
    if family == "internlm2":
        if "bias" in keep:
            keep["attention_bias"] = keep.pop("bias")
        keep.pop("attn_implementation", None)
        return LlamaConfig(**keep)
    if family == "phi3":
        scaling = keep.get("rope_scaling")
        if scaling and scaling.get("type") == "su":
            scaling = {k: v for k, v in scaling.items() if k != "type"}
            keep["rope_scaling"] = {**scaling, "rope_type": "longrope"}
        return Phi3Config(**keep)
    return Qwen2Config(**keep)


def native_config(original: dict, family: str, image_token_id: int):
    from transformers import InternVLConfig, InternVLVisionConfig

    vis = original["vision_config"]
    size = original.get("force_image_size") or vis["image_size"]
    patch = vis["patch_size"]
    ratio = original.get("downsample_ratio", 0.5)
    vision = InternVLVisionConfig(
        hidden_size=vis["hidden_size"], num_hidden_layers=vis["num_hidden_layers"],
        num_attention_heads=vis["num_attention_heads"],
        intermediate_size=vis["intermediate_size"], hidden_act=vis.get("hidden_act", "gelu"),
        image_size=[size, size], patch_size=[patch, patch],
        attention_bias=vis.get("qkv_bias", True), use_qk_norm=vis.get("qk_normalization", False),
        norm_type=vis.get("norm_type", "layer_norm"),
        layer_norm_eps=vis.get("layer_norm_eps", 1e-6),
        attention_dropout=vis.get("attention_dropout", 0.0),
        projection_dropout=vis.get("attention_dropout", 0.0), use_mean_pooling=True,
        use_absolute_position_embeddings=True,
        layer_scale_init_value=vis.get("initializer_factor", 1.0))
    text = text_config(original["llm_config"], family)
    return InternVLConfig(
        vision_config=vision, text_config=text, image_token_id=image_token_id,
        image_seq_length=int((size // patch) ** 2 * ratio ** 2), downsample_ratio=ratio,
        vision_feature_layer=original.get("select_layer", -1),
        vision_feature_select_strategy="default", projector_hidden_act="gelu",
        tie_word_embeddings=bool(original["llm_config"].get("tie_word_embeddings", False)))


def _shards(src: Path) -> list[Path]:
    index = src / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [src / n for n in names]
    single = src / "model.safetensors"
    if not single.is_file():
        raise FileNotFoundError(f"{src}: no model.safetensors or model.safetensors.index.json")
    return [single]


def _expected_shapes(config) -> dict[str, torch.Size]:
    from transformers import InternVLForConditionalGeneration

    with torch.device("meta"):
        model = InternVLForConditionalGeneration(config)
    return {k: v.shape for k, v in model.state_dict().items()}


TEMPLATE_BY_FAMILY = {"qwen2": "Hermes-2", "internlm2": "internlm2-chat", "phi3": "phi3-chat"}


def _load_tokenizer(src: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(src, trust_remote_code=False)
    token = tokenizer.convert_tokens_to_ids(IMG_CONTEXT)
    if token is None or tokenizer.convert_ids_to_tokens(token) != IMG_CONTEXT:
        raise ValueError(f"{src}: the tokenizer has no {IMG_CONTEXT} token")
    return tokenizer, int(token)


def convert_to_native(src: str | Path, dst: str | Path) -> ConvertSummary:
    """Original InternVL2 checkpoint folder -> native folder loadable by from_pretrained."""
    src, dst = Path(src), Path(dst)
    original = json.loads((src / "config.json").read_text())
    if "InternVLChatModel" not in (original.get("architectures") or []):
        raise ValueError(f"{src}: not an original InternVL checkpoint (architectures "
                         f"{original.get('architectures')})")
    family = llm_family(original, str(src))
    heads = internlm2_heads(original["llm_config"]) if family == "internlm2" else None
    tokenizer, image_token_id = _load_tokenizer(src)
    config = native_config(original, family, image_token_id)
    expected = _expected_shapes(config)
    dst.mkdir(parents=True, exist_ok=True)
    produced, weight_map, count = {}, {}, 0
    for shard in _shards(src):
        out: dict[str, torch.Tensor] = {}
        with safe_open(shard, "pt") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
                count += 1
                for new, tensor in to_native(name, handle.get_tensor(name), family, heads).items():
                    _check(new, tensor, expected, produced, name)
                    out[new] = tensor.contiguous()
        save_file(out, dst / shard.name, metadata={"format": "pt"})
        weight_map.update({k: shard.name for k in out})
    missing = sorted(set(expected) - set(produced) - _tied(config))
    if missing:
        raise KeyError(f"{src}: tensors missing for {missing[:5]} ({len(missing)} in all)")
    if len(weight_map) > 0 and len(_shards(src)) > 1:
        write_json(dst / "model.safetensors.index.json",
                   {"metadata": {}, "weight_map": dict(sorted(weight_map.items()))})
    config.save_pretrained(dst)
    write_json(dst / ORIGINAL_CONFIG, original)
    for code in sorted(src.glob("*.py")):
        (dst / ORIGINAL_CODE).mkdir(exist_ok=True)
        shutil.copyfile(code, dst / ORIGINAL_CODE / code.name)
    tokenizer.chat_template = chat_template(original.get("template")
                                            or TEMPLATE_BY_FAMILY[family])
    tokenizer.save_pretrained(dst)
    save_image_processor(dst, size=original.get("force_image_size") or 448,
                         max_patches=original.get("max_dynamic_patch", 12))
    return ConvertSummary(family, count, len(produced), len(_shards(src)))


def _tied(config) -> set[str]:
    return {"lm_head.weight"} if config.tie_word_embeddings else set()


def _check(new: str, tensor: torch.Tensor, expected: dict, produced: dict, source: str):
    if new not in expected:
        raise KeyError(f"{source} -> {new}: not a tensor of the native model")
    if new in produced:
        raise KeyError(f"{source} -> {new}: produced twice (also from {produced[new]})")
    if tensor.shape != expected[new]:
        raise ValueError(f"{source} -> {new}: shape {tuple(tensor.shape)}, expected "
                         f"{tuple(expected[new])}")
    produced[new] = source


def _copy_tokenizer(src: Path, dst: Path) -> None:
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)


def carry_original_files(src: str | Path, dst: str | Path) -> None:
    """Copy the original config and remote code kept by `convert_to_native` from one native
    folder to another (a fine-tune's final model), so it can still go `--to-internvl`."""
    src, dst = Path(src), Path(dst)
    if (src / ORIGINAL_CONFIG).is_file():
        shutil.copyfile(src / ORIGINAL_CONFIG, dst / ORIGINAL_CONFIG)
    if (src / ORIGINAL_CODE).is_dir():
        shutil.copytree(src / ORIGINAL_CODE, dst / ORIGINAL_CODE, dirs_exist_ok=True)


def convert_to_internvl(src: str | Path, dst: str | Path) -> ConvertSummary:
    """Native folder (converted or fine-tuned) -> original layout for VLMEvalKit-style tools."""
    from transformers import InternVLForConditionalGeneration

    src, dst = Path(src), Path(dst)
    original_path = src / ORIGINAL_CONFIG
    if not original_path.is_file():
        raise FileNotFoundError(f"{src}: no {ORIGINAL_CONFIG}; convert from an original "
                                "checkpoint first (or copy that file next to the weights)")
    original = json.loads(original_path.read_text())
    family = llm_family(original, str(src))
    heads = internlm2_heads(original["llm_config"]) if family == "internlm2" else None
    model = InternVLForConditionalGeneration.from_pretrained(src, dtype="auto")
    state = model.state_dict()
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    tensors = {k: v.contiguous() for k, v in to_original(state, family, heads).items()}
    dst.mkdir(parents=True, exist_ok=True)
    save_file(tensors, dst / "model.safetensors", metadata={"format": "pt"})
    write_json(dst / "config.json", original)
    _copy_tokenizer(src, dst)
    for code in sorted((src / ORIGINAL_CODE).glob("*.py")):
        shutil.copyfile(code, dst / code.name)
    return ConvertSummary(family, len(state), len(tensors), 1)
