"""Original InternVL2 checkpoints (and hub datasets) at pinned revisions; models made native.

A user who sets nothing still gets a pinned run (issue 9): `resolve_revision` keeps an explicit
40-hex commit sha from params.yaml; otherwise it resolves the branch (null = "main") to its
commit sha at the first download through the hub API (`HfApi.model_info(...).sha`,
`dataset_info` for datasets), records it in a small JSON file next to the outputs (hub_id,
requested revision, sha, date; git/DVC-tracked, so dvc.lock and the run manifest carry it) and
reuses the recorded sha afterwards, so a branch that moves on never changes a rerun.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

from internvl_da.fileio import write_json

REVISION = re.compile(r"[0-9a-f]{40}")
DEFAULT_BRANCH = "main"


def pinned_revision(model: dict) -> str:
    """The entry's revision, which must be a full commit sha."""
    revision = model.get("revision")
    if not revision or not REVISION.fullmatch(revision):
        raise ValueError(f"{model.get('hub_id')}: revision {revision!r} is not pinned; set "
                         "models.<size>.revision in params.yaml to the 40-character commit sha "
                         "shown on the hub page (Files -> History)")
    return revision


def _hub_sha(api, hub_id: str, branch: str, repo_type: str) -> str:
    info = api.dataset_info if repo_type == "dataset" else api.model_info
    sha = info(hub_id, revision=branch).sha
    if not sha or not REVISION.fullmatch(sha):
        raise ValueError(f"{hub_id}@{branch}: the hub returned no commit sha ({sha!r})")
    return sha


def read_record(record: Path, hub_id: str, requested: str) -> str | None:
    """The recorded sha for (hub_id, requested), None without a record; errors name the file."""
    if not record.is_file():
        return None
    try:
        data = json.loads(record.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{record}: not a revision record ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{record}: not a revision record (a JSON object is expected)")
    if data.get("hub_id") != hub_id:
        raise ValueError(f"{record}: records {data.get('hub_id')!r}, not {hub_id}; point the "
                         "record at another file or delete it")
    if data.get("requested") != requested:
        raise ValueError(f"{record}: records revision {data.get('requested')!r} of {hub_id}, "
                         f"params ask for {requested!r}; delete the record to resolve again")
    sha = data.get("sha")
    if not isinstance(sha, str) or not REVISION.fullmatch(sha):
        raise ValueError(f"{record}: sha {sha!r} is not a 40-character commit sha")
    return sha


def resolve_revision(entry: dict, record: str | Path, api=None, repo_type: str = "model") -> str:
    """The commit sha to download `entry` (hub_id, revision) at; see the module docstring.
    `api`: an HfApi-like object (tests pass a fake); created only when the hub must be asked."""
    hub_id, revision = entry.get("hub_id"), entry.get("revision")
    if not hub_id:
        raise ValueError(f"no hub_id in {entry}")
    if revision and REVISION.fullmatch(revision):
        return revision
    record, requested = Path(record), revision or DEFAULT_BRANCH
    sha = read_record(record, hub_id, requested)
    if sha is not None:
        return sha
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    sha = _hub_sha(api, hub_id, requested, repo_type)
    record.parent.mkdir(parents=True, exist_ok=True)
    write_json(record, {"hub_id": hub_id, "repo_type": repo_type, "requested": requested,
                        "sha": sha, "resolved": datetime.datetime.now(datetime.UTC)
                        .strftime("%Y-%m-%dT%H:%M:%SZ")}, indent=2)
    return sha


def default_record(out: Path) -> Path:
    """`<out>.revision.json`, next to the output folder (used when no record path is given)."""
    return out.with_name(out.name + ".revision.json")


def fetch_and_convert(model: dict, out: Path, record: str | Path | None = None,
                      cache_dir: str | Path | None = None, api=None, download=None) -> Path:
    """Download `model` (hub_id at its resolved revision) and convert it into `out`.
    `download` defaults to huggingface_hub.snapshot_download (tests pass a fake)."""
    out = Path(out)
    revision = resolve_revision(model, record or default_record(out), api=api)
    if download is None:
        from huggingface_hub import snapshot_download as download

    from internvl_da.model.convert import convert_to_native

    source = download(model["hub_id"], revision=revision, cache_dir=cache_dir)
    print(f"{model['hub_id']}@{revision}")
    print(convert_to_native(source, out))
    return out
