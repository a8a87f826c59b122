"""Run manifests: what produced an output (config, inputs, code, versions, determinism)."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata

PACKAGES = ("torch", "transformers", "tokenizers", "accelerate", "peft", "deepspeed", "pillow",
            "numpy", "safetensors", "internvl-da")


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout
        return out.stdout.strip() + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_manifest(config: dict, inputs: dict, envelope: dict, extra: dict | None = None) -> dict:
    """A JSON-ready manifest; no timestamps, so identical runs give identical manifests."""
    return {"config": config, "inputs": inputs, "determinism": envelope,
            "git_commit": git_commit(), "python": platform.python_version(),
            "packages": package_versions(), **(extra or {})}
