"""Hub revisions: a branch (or null) resolves to a commit sha once, recorded and reused;
an explicit sha wins. A fake API stands in for the hub (no network)."""

from __future__ import annotations

import json

import pytest

from internvl_da.model.hub import fetch_and_convert, pinned_revision, resolve_revision

SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


class FakeInfo:
    def __init__(self, sha):
        self.sha = sha


class FakeApi:
    """model_info / dataset_info answering `shas[(repo_type, hub_id, revision)]`; counts calls."""

    def __init__(self, shas):
        self.shas, self.calls = shas, []

    def model_info(self, hub_id, revision=None):
        self.calls.append(("model", hub_id, revision))
        return FakeInfo(self.shas[("model", hub_id, revision)])

    def dataset_info(self, hub_id, revision=None):
        self.calls.append(("dataset", hub_id, revision))
        return FakeInfo(self.shas[("dataset", hub_id, revision)])


MODEL = {"hub_id": "OpenGVLab/InternVL2-1B", "revision": None, "template": "Hermes-2"}


def test_null_revision_resolves_main_once_and_is_reused(tmp_path):
    record = tmp_path / "revisions" / "1b.json"
    api = FakeApi({("model", "OpenGVLab/InternVL2-1B", "main"): SHA})
    assert resolve_revision(MODEL, record, api=api) == SHA
    saved = json.loads(record.read_text())
    assert saved["hub_id"] == "OpenGVLab/InternVL2-1B" and saved["requested"] == "main"
    assert saved["sha"] == SHA and saved["resolved"].endswith("Z")
    api.shas[("model", "OpenGVLab/InternVL2-1B", "main")] = OTHER  # the branch moves on
    assert resolve_revision(MODEL, record, api=api) == SHA  # the record wins: same run
    assert len(api.calls) == 1


def test_explicit_sha_wins_without_asking_the_hub(tmp_path):
    api = FakeApi({})
    entry = dict(MODEL, revision=OTHER)
    assert resolve_revision(entry, tmp_path / "r.json", api=api) == OTHER
    assert api.calls == [] and not (tmp_path / "r.json").exists()


def test_branch_name_and_datasets(tmp_path):
    api = FakeApi({("dataset", "OpenGVLab/InternVL-Domain-Adaptation-Data", "v1"): SHA})
    entry = {"hub_id": "OpenGVLab/InternVL-Domain-Adaptation-Data", "revision": "v1"}
    assert resolve_revision(entry, tmp_path / "d.json", api=api, repo_type="dataset") == SHA
    assert json.loads((tmp_path / "d.json").read_text())["repo_type"] == "dataset"


def test_record_of_another_repo_or_branch_is_an_error(tmp_path):
    record = tmp_path / "r.json"
    record.write_text(json.dumps({"hub_id": "OpenGVLab/InternVL2-4B", "requested": "main",
                                  "sha": SHA}))
    with pytest.raises(ValueError, match=r"r.json: records 'OpenGVLab/InternVL2-4B', not "
                                         r"OpenGVLab/InternVL2-1B"):
        resolve_revision(MODEL, record, api=FakeApi({}))
    record.write_text(json.dumps({"hub_id": "OpenGVLab/InternVL2-1B", "requested": "dev",
                                  "sha": SHA}))
    with pytest.raises(ValueError, match=r"records revision 'dev' .* params ask for 'main'"):
        resolve_revision(MODEL, record, api=FakeApi({}))
    record.write_text("[1]")
    with pytest.raises(ValueError, match=r"r.json: not a revision record"):
        resolve_revision(MODEL, record, api=FakeApi({}))


def test_hub_without_sha_is_an_error(tmp_path):
    api = FakeApi({("model", "OpenGVLab/InternVL2-1B", "main"): None})
    with pytest.raises(ValueError, match=r"InternVL2-1B@main: the hub returned no commit sha"):
        resolve_revision(MODEL, tmp_path / "r.json", api=api)
    assert not (tmp_path / "r.json").exists()


def test_fetch_and_convert_downloads_the_resolved_sha(tmp_path, monkeypatch):
    """base_model with revision null no longer stops: it downloads at the recorded sha."""
    seen = {}

    def download(hub_id, revision, cache_dir=None):
        seen.update(hub_id=hub_id, revision=revision)
        raise RuntimeError("stop after the download call")

    api = FakeApi({("model", "OpenGVLab/InternVL2-1B", "main"): SHA})
    with pytest.raises(RuntimeError, match="stop after"):
        fetch_and_convert(MODEL, tmp_path / "base", api=api, download=download)
    assert seen == {"hub_id": "OpenGVLab/InternVL2-1B", "revision": SHA}
    assert json.loads((tmp_path / "base.revision.json").read_text())["sha"] == SHA


def test_pinned_revision_still_refuses_branches():
    assert pinned_revision({"hub_id": "x", "revision": SHA}) == SHA
    with pytest.raises(ValueError, match="is not pinned"):
        pinned_revision({"hub_id": "x", "revision": "main"})
