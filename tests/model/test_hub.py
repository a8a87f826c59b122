"""Hub checkpoints: an unpinned revision is refused before any download."""

from __future__ import annotations

import pytest

from internvl_da.model.hub import fetch_and_convert, pinned_revision


@pytest.mark.parametrize("revision", [None, "main", "v1.0", "abc123"])
def test_unpinned_revisions_are_refused(tmp_path, revision):
    model = {"hub_id": "OpenGVLab/InternVL2-1B", "revision": revision, "template": "Hermes-2"}
    with pytest.raises(ValueError, match=r"InternVL2-1B: revision .* is not pinned"):
        fetch_and_convert(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_commit_sha_is_pinned():
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert pinned_revision({"hub_id": "x", "revision": sha}) == sha
