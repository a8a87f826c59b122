"""`internvl-da convert`: original InternVL2 checkpoints <-> native transformers InternVL.

Forward (original -> native) streams shard by shard: each source safetensors file is read,
renamed/split (model/convert_keys.py) and written as one output shard, so memory stays near
one shard. Every source tensor must be consumed exactly once and every native tensor must be
produced with the expected shape; anything else is an error naming the key.
Every non-weight file of the original folder (config.json, generation_config.json,
preprocessor_config.json, the tokenizer files, the remote-code *.py) is kept byte for byte in
`internvl_original/`: `--to-internvl` restores them unchanged, so transformers 4.37.2 with
trust_remote_code (InternVL, VLMEvalKit) loads the export and tokenizes as the original did
(issue 9, item 4). The remote code is never imported here. Both directions build the output in
a hidden sibling folder and rename it into place at the end: an error leaves no partial output.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from internvl_da.fileio import staged_folder, write_json
from internvl_da.model.convert_config import (
    TEMPLATE_BY_FAMILY,
    internlm2_heads,
    llm_family,
    native_config,
)
from internvl_da.model.convert_keys import to_native, to_original
from internvl_da.model.convert_tokens import (
    checked_token_ids,
    exact_transformers_tokenizer,
    has_original_tokenizer,
    load_source_tokenizer,
)
from internvl_da.model.processor import chat_template, save_image_processor

ORIGINAL_DIR = "internvl_original"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".msgpack", ".h5")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class ConvertSummary:
    family: str
    tensors_in: int
    tensors_out: int
    shards: int
    token_ids: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"converted {self.tensors_in} tensors -> {self.tensors_out} ({self.family}, "
                 f"{self.shards} shard(s))"]
        if self.token_ids:
            lines.append("token ids checked against config.json: " + ", ".join(
                f"{t}={i}" for t, i in self.token_ids.items()))
        return "\n".join([*lines, *self.notes])


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


def _read_original_config(src: Path) -> dict:
    original = json.loads((src / "config.json").read_text())
    if "InternVLChatModel" not in (original.get("architectures") or []):
        raise ValueError(f"{src}: not an original InternVL checkpoint (architectures "
                         f"{original.get('architectures')})")
    return original


@contextmanager
def _atomic_folder(src: Path, dst: Path) -> Iterator[Path]:
    """Build the output in a hidden sibling of `dst` and rename it to `dst` only when the
    whole conversion succeeded: an error (a missing tensor, a full disk) leaves no partial
    output folder (issue 11, item 10). A previous `dst` is replaced as a whole, so no stale
    shard of an earlier conversion survives next to the new ones."""
    if dst.resolve() == src.resolve() or dst.resolve() in src.resolve().parents:
        raise ValueError(f"{dst}: the output folder must not be or contain the source {src}")
    with staged_folder(dst) as staging:
        yield staging


def convert_to_native(src: str | Path, dst: str | Path) -> ConvertSummary:
    """Original InternVL2 checkpoint folder -> native folder loadable by from_pretrained
    (written atomically: all of it or nothing)."""
    src, dst = Path(src), Path(dst)
    original = _read_original_config(src)
    family = llm_family(original, str(src))
    template = original.get("template") or TEMPLATE_BY_FAMILY[family]
    tokenizer = load_source_tokenizer(src)
    token_ids = checked_token_ids(tokenizer, original, template, str(src))
    config = native_config(original, family, token_ids["<IMG_CONTEXT>"])
    with _atomic_folder(src, dst) as out:
        count, produced = _convert_weights(src, out, config, family, original)
        missing = sorted(set(_expected_shapes(config)) - set(produced) - _tied(config))
        if missing:
            raise KeyError(f"{src}: tensors missing for {missing[:5]} ({len(missing)} in all)")
        config.save_pretrained(out)
        keep_original_files(src, out / ORIGINAL_DIR)
        notes = _write_tokenizer_files(src, out, tokenizer, template, shown=dst)
        save_image_processor(out, size=original.get("force_image_size") or 448,
                             max_patches=original.get("max_dynamic_patch", 12))
    return ConvertSummary(family, count, len(produced), len(_shards(src)), token_ids, notes)


def _convert_weights(src: Path, dst: Path, config, family: str, original: dict):
    heads = internlm2_heads(original["llm_config"]) if family == "internlm2" else None
    expected = _expected_shapes(config)
    dst.mkdir(parents=True, exist_ok=True)
    produced, weight_map, count = {}, {}, 0
    shards = _shards(src)
    for shard in shards:
        out: dict[str, torch.Tensor] = {}
        with safe_open(shard, "pt") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
                count += 1
                for new, tensor in to_native(name, handle.get_tensor(name), family, heads).items():
                    _check(new, tensor, expected, produced, name)
                    out[new] = tensor.contiguous()
        save_file(out, dst / shard.name, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(out, shard.name))
    if len(shards) > 1:
        write_json(dst / "model.safetensors.index.json",
                   {"metadata": {}, "weight_map": dict(sorted(weight_map.items()))})
    return count, produced


def _write_tokenizer_files(src: Path, dst: Path, tokenizer, template: str,
                           shown: Path | None = None) -> tuple[str, ...]:
    """Top-level tokenizer of the native folder, for plain-transformers users.

    A transformers tokenizer folder (tiny checkpoints) is re-saved; for original tokenizer
    files, the transformers 5 tokenizer is written only when it gives the original ids on the
    check texts, else none (load_native reads `internvl_original/`). The chat template is
    always written (chat_template.jinja)."""
    (dst / "chat_template.jinja").write_text(chat_template(template))
    if has_original_tokenizer(src):
        hf, reason = exact_transformers_tokenizer(src, tokenizer)
    else:
        hf, reason = tokenizer, ""
    if hf is None:
        return (f"no transformers tokenizer written at the top of {shown or dst}: {reason}; "
                f"load_native uses the original files in {ORIGINAL_DIR}/",)
    hf.chat_template = chat_template(template)
    hf.save_pretrained(dst)
    return ()


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


def keep_original_files(src: str | Path, keep: str | Path) -> list[str]:
    """Copy every top-level non-weight file of the original folder into `keep`, byte for
    byte (configs, tokenizer files, remote code, README/licence); their names."""
    src, keep = Path(src), Path(keep)
    keep.mkdir(parents=True, exist_ok=True)
    names = []
    for path in sorted(src.iterdir()):
        if path.is_file() and not path.name.endswith(WEIGHT_SUFFIXES) and \
                path.name not in WEIGHT_INDEXES and not path.name.startswith("."):
            shutil.copyfile(path, keep / path.name)
            names.append(path.name)
    return names


# The top-level tokenizer files `_write_tokenizer_files` may write into a native folder.
NATIVE_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                          "chat_template.jinja")


def carry_original_files(src: str | Path, dst: str | Path) -> bool:
    """Copy the original files kept by `convert_to_native` from one native folder to another
    (a fine-tune's final model), so it can still go `--to-internvl`, together with the
    top-level tokenizer files `convert` chose for plain-transformers users (re-saving an
    OriginalTokenizer there would put the original files at the top, which transformers 5
    tokenizes differently). True if there were original files; no-op otherwise."""
    src, dst = Path(src), Path(dst)
    if not (src / ORIGINAL_DIR).is_dir():
        return False
    shutil.copytree(src / ORIGINAL_DIR, dst / ORIGINAL_DIR, dirs_exist_ok=True)
    for name in NATIVE_TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)
    return True


def convert_to_internvl(src: str | Path, dst: str | Path) -> ConvertSummary:
    """Native folder (converted or fine-tuned) -> original layout for VLMEvalKit-style tools:
    the weights in the original names and dtype, every kept original file byte for byte."""
    from transformers import InternVLForConditionalGeneration

    src, dst = Path(src), Path(dst)
    kept = src / ORIGINAL_DIR
    if not (kept / "config.json").is_file():
        raise FileNotFoundError(f"{src}: no {ORIGINAL_DIR}/config.json; convert from an "
                                "original checkpoint first (or copy that folder next to the "
                                "weights)")
    original = json.loads((kept / "config.json").read_text())
    family = llm_family(original, str(kept / "config.json"))
    heads = internlm2_heads(original["llm_config"]) if family == "internlm2" else None
    model = InternVLForConditionalGeneration.from_pretrained(src, dtype="auto")
    state = model.state_dict()
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    tensors = {k: v.contiguous() for k, v in to_original(state, family, heads).items()}
    with _atomic_folder(src, dst) as out:
        save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
        keep_original_files(kept, out)
    return ConvertSummary(family, len(state), len(tensors), 1)
