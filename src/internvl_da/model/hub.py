"""Original InternVL2 checkpoints from the Hugging Face hub, pinned by revision, made native.

No stage reads an unpinned revision (stack-notes §8): `fetch_and_convert` refuses a model
entry of params.yaml whose `revision` is null, before any network access.
"""

from __future__ import annotations

import re
from pathlib import Path

REVISION = re.compile(r"[0-9a-f]{40}")


def pinned_revision(model: dict) -> str:
    """The entry's revision, which must be a full commit sha."""
    revision = model.get("revision")
    if not revision or not REVISION.fullmatch(revision):
        raise ValueError(f"{model.get('hub_id')}: revision {revision!r} is not pinned; set "
                         "models.<size>.revision in params.yaml to the 40-character commit sha "
                         "shown on the hub page (Files -> History)")
    return revision


def fetch_and_convert(model: dict, out: Path, cache_dir: str | Path | None = None) -> Path:
    """Download `model` (hub_id at its pinned revision) and convert it into `out`."""
    revision = pinned_revision(model)
    from huggingface_hub import snapshot_download

    from internvl_da.model.convert import convert_to_native

    source = snapshot_download(model["hub_id"], revision=revision, cache_dir=cache_dir)
    print(convert_to_native(source, out))
    return out
