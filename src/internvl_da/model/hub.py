"""Hub checkpoints (and datasets) at pinned revisions: original InternVL2 checkpoints are
downloaded and converted (`fetch_and_convert`); InternVL3.5's `-HF` checkpoints are already
native and are only downloaded and checked (`fetch_native`, spec internvl35.md §2-§3.4).

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
import shutil
from pathlib import Path

from internvl_da.fileio import staged_folder, write_json

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


# Spec internvl35.md §3.4: tokens every InternVL3.5 tokenizer must hold as ONE token each.
NATIVE_TOKENS_35 = ("<|im_start|>", "<|im_end|>", "<think>", "</think>", "<img>", "</img>",
                    "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>")
# Their ids in the real Qwen3-based checkpoints (§3.4; the InternVL ones inferred there): pass
# as `expected_ids` for the 1B/2B/4B so a different vocabulary is named, never trained on.
INTERNVL35_IDS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645,
                  "<think>": 151667, "</think>": 151668, "<img>": 151669, "</img>": 151670,
                  "<IMG_CONTEXT>": 151671, "<quad>": 151672, "</quad>": 151673,
                  "<ref>": 151674, "</ref>": 151675, "<box>": 151676, "</box>": 151677}
# What huggingface_hub's `local_dir` download leaves inside the folder (etags, timestamps):
# dropped, so the folder's content (and its DVC hash) is the checkpoint's files only.
HUB_METADATA = ".cache"


def check_native_folder(path: str | Path, expected_ids: dict[str, int] | None = None,
                        tokens: tuple[str, ...] = NATIVE_TOKENS_35) -> dict[str, int]:
    """{token: id} of a native InternVL folder that loads as one: config model_type internvl,
    safetensors weights, a tokenizer (no remote code) holding each of `tokens` as one token,
    `image_token_id` == its `<IMG_CONTEXT>` id and, if given, the `expected_ids`."""
    from internvl_da.model.convert_tokens import _token_id
    from internvl_da.model.load import (
        check_native_checkpoint,
        check_tokenizer,
        load_tokenizer,
        weight_files,
    )

    config = check_native_checkpoint(path)
    weight_files(path)
    tokenizer = load_tokenizer(path)
    image_token = check_tokenizer(tokenizer, str(path))
    if config.get("image_token_id") != image_token:
        raise ValueError(f"{path}: config.json image_token_id {config.get('image_token_id')} "
                         f"!= the tokenizer's <IMG_CONTEXT> id {image_token}")
    ids = {t: _token_id(tokenizer, t, str(path)) for t in tokens}
    wrong = {t: (i, ids.get(t, tokenizer.convert_tokens_to_ids(t)))
             for t, i in (expected_ids or {}).items()
             if ids.get(t, tokenizer.convert_tokens_to_ids(t)) != i}
    if wrong:
        shown = ", ".join(f"{t} {got} (expected {want})" for t, (want, got) in wrong.items())
        raise ValueError(f"{path}: token ids differ from spec internvl35.md §3.4: {shown}")
    return ids


def fetch_native(model: dict, out: str | Path, record: str | Path | None = None,
                 cache_dir: str | Path | None = None, api=None, download=None,
                 expected_ids: dict[str, int] | None = None) -> Path:
    """Download a native (`-HF`) checkpoint into `out` at its resolved revision, no convert.

    `download` defaults to huggingface_hub.snapshot_download, called with `local_dir` (tests
    pass a fake). The files land in a hidden sibling of `out`, are checked
    (`check_native_folder`) and only then replace `out` as a whole: a failed or partial
    download never leaves a folder that looks like a checkpoint."""
    out = Path(out)
    revision = resolve_revision(model, record or default_record(out), api=api)
    if download is None:
        from huggingface_hub import snapshot_download as download

    with staged_folder(out) as staging:
        download(model["hub_id"], revision=revision, cache_dir=cache_dir, local_dir=str(staging))
        shutil.rmtree(staging / HUB_METADATA, ignore_errors=True)
        ids = check_native_folder(staging, expected_ids)
    print(f"{model['hub_id']}@{revision}: native checkpoint in {out} (<IMG_CONTEXT> "
          f"{ids['<IMG_CONTEXT>']})")
    return out
