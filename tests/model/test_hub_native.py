"""`hub.fetch_native`: an InternVL3.5 `-HF` checkpoint is downloaded at its resolved revision
and checked, never converted (spec internvl35.md §2, §3.4). A fake `snapshot_download` copies
a tiny native InternVL3.5 folder (released.write_tiny_native_base); no network."""

from __future__ import annotations

import json
import shutil

import pytest

from internvl_da.model.hub import INTERNVL35_IDS, check_native_folder, fetch_native
from internvl_da.model.load import load_native
from internvl_da.released import write_tiny_native_base

SHA = "0123456789abcdef0123456789abcdef01234567"
MODEL = {"hub_id": "OpenGVLab/InternVL3_5-1B-HF", "revision": None}


class FakeInfo:
    sha = SHA


class FakeApi:
    def __init__(self):
        self.calls = []

    def model_info(self, hub_id, revision=None):
        self.calls.append((hub_id, revision))
        return FakeInfo()


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    """The stand-in of the hub's -HF folder, with the metadata a local_dir download leaves."""
    folder = write_tiny_native_base(5, tmp_path_factory.mktemp("hub") / "InternVL3_5-tiny-HF")
    (folder / ".cache" / "huggingface").mkdir(parents=True)
    (folder / ".cache" / "huggingface" / "x.metadata").write_text("etag, time")
    return folder


def fake_download(source, calls):
    def download(hub_id, revision, cache_dir=None, local_dir=None):
        calls.append((hub_id, revision, local_dir))
        shutil.copytree(source, local_dir, dirs_exist_ok=True)
        return local_dir
    return download


def test_fetch_native_downloads_the_resolved_sha_and_loads_without_convert(tmp_path, hf_folder):
    calls, api = [], FakeApi()
    out = fetch_native(MODEL, tmp_path / "base", record=tmp_path / "rev.json", api=api,
                       download=fake_download(hf_folder, calls))
    assert calls[0][:2] == ("OpenGVLab/InternVL3_5-1B-HF", SHA)
    assert json.loads((tmp_path / "rev.json").read_text())["sha"] == SHA
    names = sorted(p.name for p in out.iterdir())
    assert ".cache" not in names and "internvl_original" not in names  # nothing converted
    assert sorted(p.name for p in hf_folder.iterdir() if p.name != ".cache") == names
    model, tok = load_native(out)
    assert model.config.image_token_id == tok.convert_tokens_to_ids("<IMG_CONTEXT>")
    assert not model.config.tie_word_embeddings
    # rerun: the recorded sha is reused, the folder replaced as a whole
    fetch_native(MODEL, out, record=tmp_path / "rev.json", api=api,
                 download=fake_download(hf_folder, calls))
    assert len(api.calls) == 1 and calls[1][1] == SHA
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".base")]


def test_expected_ids_are_checked_and_named(tmp_path, hf_folder):
    ids = check_native_folder(hf_folder)
    assert set(ids) >= {"<think>", "</think>", "<IMG_CONTEXT>", "<|im_end|>"}
    assert check_native_folder(hf_folder, {"<think>": ids["<think>"]})["<think>"] == ids["<think>"]
    with pytest.raises(ValueError, match=r"<IMG_CONTEXT> \d+ \(expected 151671\)"):
        fetch_native(dict(MODEL, revision=SHA), tmp_path / "base", api=FakeApi(),
                     download=fake_download(hf_folder, []), expected_ids=INTERNVL35_IDS)
    assert not (tmp_path / "base").exists()  # a failed check leaves no checkpoint folder
    assert not list(tmp_path.glob(".base*"))


def test_a_folder_that_is_not_native_is_refused_before_replacing_out(tmp_path, hf_folder):
    broken = tmp_path / "broken"
    shutil.copytree(hf_folder, broken)
    config = json.loads((broken / "config.json").read_text())
    config["image_token_id"] = 0
    (broken / "config.json").write_text(json.dumps(config))
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "keep.txt").write_text("previous")
    with pytest.raises(ValueError, match="image_token_id 0 != the tokenizer's <IMG_CONTEXT>"):
        fetch_native(dict(MODEL, revision=SHA), tmp_path / "base",
                     download=fake_download(broken, []))
    assert (tmp_path / "base" / "keep.txt").read_text() == "previous"


def test_tiny_native_base_has_the_3_5_chat_template(hf_folder):
    from internvl_da.data.templates import SYSTEM_MESSAGE_35

    assert SYSTEM_MESSAGE_35 in (hf_folder / "chat_template.jinja").read_text()
    assert json.loads((hf_folder / "preprocessor_config.json").read_text())["size"] == {
        "height": 64, "width": 64}
