"""VLMEvalKit registration of a checkpoint in the original InternVL layout (evaluation.md §7.1).

VLMEvalKit loads InternVL2 models through its `InternVLChat` wrapper with `trust_remote_code`,
so it needs the original layout (`config.json` architectures `InternVLChatModel`, the remote
code files named in `auto_map`), which `internvl-da convert --to-internvl` exports from a native
checkpoint. A model is registered by one entry in `vlmeval/config.py`: at the paper-time commit
4d6d204e, in the `internvl_series` dict, `partial(InternVLChat, model_path=..., version='V2.0')`;
`version='V2.0'` selects the InternVL2 code path (`generate_v2`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from internvl_da.fileio import read_json_object

VLMEVALKIT_COMMIT = "4d6d204e"  # 2024-10-19, contemporaneous with the paper
VLMEVALKIT_RECENT = "e8e78f05"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CONVERT_HINT = "export a native checkpoint with `internvl-da convert --to-internvl SRC DST` first"


@dataclass(frozen=True)
class OriginalCheckpoint:
    path: Path  # absolute
    template: str | None
    llm: str
    missing_code: tuple[str, ...]  # remote-code files named in auto_map but absent


def _config(path: Path) -> dict:
    config_path = path / "config.json"
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: checkpoint folder not found")
    if not config_path.is_file():
        raise ValueError(f"{path}: no config.json; {CONVERT_HINT}")
    return read_json_object(config_path)


def check_original(checkpoint: str | Path) -> OriginalCheckpoint:
    """The checkpoint's facts VLMEvalKit relies on; a clear error when it is not loadable."""
    path = Path(checkpoint).resolve()
    config = _config(path)
    architectures = config.get("architectures") or []
    if "InternVLChatModel" not in architectures:
        raise ValueError(f"{path / 'config.json'}: architectures {architectures} is not the "
                         f"original InternVL layout (InternVLChatModel); {CONVERT_HINT}")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise ValueError(f"{path}: no weights (one of {', '.join(WEIGHT_FILES)})")
    modules = sorted({ref.split(".")[0] + ".py"
                      for ref in (config.get("auto_map") or {}).values()
                      if isinstance(ref, str)})
    llm = (config.get("llm_config") or {}).get("architectures") or ["?"]
    return OriginalCheckpoint(path, config.get("template"), str(llm[0]),
                              tuple(m for m in modules if not (path / m).is_file()))


def registration_snippet(checkpoint: str | Path, name: str) -> str:
    """The config.py entry and run commands that evaluate `checkpoint` as model `name`."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"model name {name!r}: use letters, digits, '.', '_' and '-' "
                         "(it becomes VLMEvalKit's --model argument and output folder)")
    info = check_original(checkpoint)
    entry = f"partial(InternVLChat, model_path={str(info.path)!r}, version='V2.0')"
    lines = [
        f"# VLMEvalKit registration of {info.path}",
        f"# (LLM {info.llm}, template {info.template or 'unset'})",
        f"# VLMEvalKit {VLMEVALKIT_COMMIT} (2024-10-19, the paper's version): in "
        "vlmeval/config.py, add to the `internvl_series` dict:",
        f"    {name!r}: {entry},",
        f"# Later versions (e.g. {VLMEVALKIT_RECENT}) group InternVL2 models in other dicts "
        "(e.g. `internvl2`); add the same entry there,",
        "# spelling the class as the neighbouring InternVL2 entries do "
        "(`InternVLChat` or `vlm.InternVLChat`).",
        "# Then evaluate GMAI-MMBench VAL with exact matching (as internvl-da does offline):",
        f"python run.py --data GMAI-MMBench_VAL --model {name} --judge exact_matching",
        f"# torchrun --nproc-per-node=8 run.py --data GMAI-MMBench_VAL --model {name} "
        "--judge exact_matching",
    ]
    if info.missing_code:
        lines.append(f"# WARNING: {', '.join(info.missing_code)} missing in {info.path}: "
                     "VLMEvalKit loads with trust_remote_code and needs them; copy them from "
                     "the original InternVL2 checkpoint of this size.")
    return "\n".join(lines) + "\n"
