"""data: full fetching: recorded revisions, split image archives, manual parts, GMAI's MD5."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from internvl_da import fetch
from internvl_da.params import load_params

SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeApi:
    """The hub's answer for a branch: one sha per repository (no network)."""

    def __init__(self):
        self.asked = []

    def dataset_info(self, repo_id, revision=None, **_):
        self.asked.append((repo_id, revision))
        return type("Info", (), {"sha": SHA})()


@pytest.fixture
def params(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return {**load_params(), "data": "full"}


def _split_archive(folder, name, files, part_size):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rel, data in files.items():
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    blob = buffer.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    for k, start in enumerate(range(0, len(blob), part_size)):
        (folder / f"{name}_part_a{'abcdefghij'[k]}").write_bytes(blob[start:start + part_size])


def test_split_archives_are_joined_and_unpacked_once(tmp_path):
    files = {"medical/a.jpg": b"\xff\xd8" + bytes(range(256)) * 40, "medical/b.jpg": b"jpeg"}
    _split_archive(tmp_path, "medical_images.tar.gz", files, part_size=100)
    assert len(list(tmp_path.glob("*_part_*"))) > 3  # really split
    assert fetch.extract_parts(tmp_path) == ["medical_images.tar.gz"]
    assert {rel: (tmp_path / rel).read_bytes() for rel in files} == files
    (tmp_path / "medical/a.jpg").unlink()
    assert fetch.extract_parts(tmp_path) == []  # the marker: not unpacked twice


@pytest.mark.parametrize("python_has_data_filter", [True, False])
def test_archives_cannot_write_outside_their_folder(tmp_path, monkeypatch,
                                                    python_has_data_filter):
    """Regression (issue 12): tarfile's filter="data" needs Python 3.11.4+; the container's
    Debian 3.11.2 lacks it, so the same refusals are made by hand there."""
    if not python_has_data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    files = {"medical/a.jpg": b"jpeg"}
    _split_archive(tmp_path / "ok", "ok.tar.gz", files, part_size=64)
    assert fetch.extract_parts(tmp_path / "ok") == ["ok.tar.gz"]
    assert (tmp_path / "ok/medical/a.jpg").read_bytes() == b"jpeg"
    _split_archive(tmp_path / "bad", "bad.tar.gz", {"../escaped.jpg": b"x"}, part_size=64)
    with pytest.raises(Exception, match=r"escaped\.jpg"):
        fetch.extract_parts(tmp_path / "bad")
    assert not (tmp_path / "escaped.jpg").exists()


def test_fetch_records_revisions_and_lists_manual_parts(params, tmp_path, monkeypatch):
    import huggingface_hub

    from internvl_da.model import hub

    calls, api = [], FakeApi()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: api)
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo, **kw: calls.append((repo, kw["revision"], kw["local_dir"])))
    assert hub.resolve_revision  # the converter's resolver is the one used
    missing = fetch.fetch_data(params)
    datasets = params["datasets"]
    assert [c[0] for c in calls] == [e["hub_id"] for e in datasets.values()]
    pinned = datasets["general_sft"]["revision"]
    assert dict((c[0], c[1]) for c in calls)[datasets["general_sft"]["hub_id"]] == pinned
    assert {c[1] for c in calls} == {SHA, pinned}  # null revisions: the branch, resolved
    record = json.loads((tmp_path / "revisions/data/domain_adaptation.json").read_text())
    assert (record["hub_id"], record["sha"]) == (datasets["domain_adaptation"]["hub_id"], SHA)
    assert not (tmp_path / "revisions/data/general_sft.json").exists()  # explicit sha wins
    assert [m.split(":")[0] for m in missing] == ["playground/data"]  # source: released
    raw_missing = fetch.fetch_data({**params, "source": "raw"})
    assert [m.split(":")[0] for m in raw_missing] == ["playground/data", "drivelm", "rsvqa",
                                                      "dior_rsvg"]
    assert len(api.asked) == 3  # later runs reuse the records: the hub is not asked again


def test_fetch_checks_gmai_and_needs_full_data(params, tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, **kw: None)
    with pytest.raises(ValueError, match="fetch-data is for data: full"):
        fetch.fetch_data({**params, "data": "sample"})
    (tmp_path / "data/full/gmai").mkdir(parents=True)
    (tmp_path / "data/full/gmai/GMAI-MMBench_VAL.tsv").write_text("not the release\n")
    with pytest.raises(ValueError, match=r"GMAI-MMBench_VAL\.tsv: MD5 differs"):
        fetch.fetch_data(params)
