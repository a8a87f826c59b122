"""internvl_da.eval.ptb: pycocoevalcap's PTB tokenizer from a writable temporary folder.

Issue 12: in the image, the non-root user cannot write to the root-owned virtualenv, where
pycocoevalcap 1.2 puts the tokenizer's temporary file, so DriveLM's language metrics failed with
PermissionError. The regression test runs the scorer with pycocoevalcap read-only to its process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from internvl_da.eval import ptb
from internvl_da.eval.drivelm_challenge import language_metrics

CAPTIONS = {
    0: [{"caption": "There is a red car to the front of the ego car <c1,CAM_FRONT,80.0,45.0>."}],
    1: [{"caption": "A truck's wheel (left), isn't it?"}, {"caption": "Nothing... at all!"}],
    2: [{"caption": "line one\nline two"}],
}
ANSWERS = ["There is a red car to the front.", "A blue truck, left."]
GTS = ["There is a red car to the front <c1,CAM_FRONT,8.0,4.0>.", "A blue truck to the left _UNK."]


def _package() -> Path:
    """pycocoevalcap's folder (a namespace package: located through its tokenizer module)."""
    from pycocoevalcap.tokenizer import ptbtokenizer

    return Path(ptbtokenizer.__file__).resolve().parents[1]


def _released_tokenizer(folder: Path):
    """The released ptbtokenizer.py loaded from a writable copy of its folder (jar beside it):
    the reference output wherever the installed package is read-only."""
    source = _package() / "tokenizer"
    for name in ("ptbtokenizer.py", "stanford-corenlp-3.4.1.jar"):
        shutil.copy(source / name, folder / name)
    spec = importlib.util.spec_from_file_location("released_ptb", folder / "ptbtokenizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PTBTokenizer()


def test_tokenize_equals_the_released_tokenizer(tmp_path):
    assert ptb.tokenize(CAPTIONS) == _released_tokenizer(tmp_path).tokenize(CAPTIONS)


def test_tokenize_leaves_nothing_behind_and_restores_the_module(tmp_path):
    from pycocoevalcap.tokenizer import ptbtokenizer

    before = sorted(p.name for p in Path(ptbtokenizer.__file__).parent.iterdir())
    file_before = ptbtokenizer.__file__
    ptb.tokenize(CAPTIONS)
    assert ptbtokenizer.__file__ == file_before
    assert sorted(p.name for p in Path(ptbtokenizer.__file__).parent.iterdir()) == before


def test_missing_jar_is_a_clear_error(monkeypatch, tmp_path):
    from pycocoevalcap.tokenizer import ptbtokenizer

    monkeypatch.setattr(ptbtokenizer, "__file__", str(tmp_path / "ptbtokenizer.py"))
    with pytest.raises(FileNotFoundError, match=r"tokenizer jar is missing: .*stanford-corenlp"):
        ptb.tokenize(CAPTIONS)


def _read_only_copy(parent: Path) -> Path:
    """pycocoevalcap without METEOR/SPICE (unused, 96 MB) under parent/site, read-only to all."""
    site = parent / "site"
    shutil.copytree(_package(), site / "pycocoevalcap",
                    ignore=shutil.ignore_patterns("meteor", "spice", "__pycache__"))
    for path in sorted(site.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    return site


# Child: proves it cannot write where pycocoevalcap writes, then scores.
CHILD = """
import json, sys
from pathlib import Path
from pycocoevalcap.tokenizer import ptbtokenizer
folder = Path(ptbtokenizer.__file__).parent
assert str(folder).startswith(sys.argv[1]), folder
try:
    (folder / "probe").write_text("x")
    sys.exit("the environment is writable: the test reproduces nothing")
except PermissionError:
    pass
from internvl_da.eval.drivelm_challenge import language_metrics
print(json.dumps(language_metrics(json.loads(sys.argv[2]), json.loads(sys.argv[3]))))
"""


def test_drivelm_language_metrics_as_a_user_who_cannot_write_the_environment():
    """Issue 12 regression (PermissionError in the image): the DriveLM language scorer runs with
    pycocoevalcap read-only to it. As root, the child loses CAP_DAC_OVERRIDE (setpriv), so the
    read-only modes bind it as they bind the image's non-root user."""
    parent = Path(tempfile.mkdtemp(prefix="internvl-da-ro-"))
    try:
        site = _read_only_copy(parent)
        command = [sys.executable, "-c", CHILD, str(site), json.dumps(ANSWERS), json.dumps(GTS)]
        if os.geteuid() == 0:
            command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), *sys.path]))
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout) == language_metrics(ANSWERS, GTS)
    finally:
        for path in [parent, *parent.rglob("*")]:
            if path.is_dir():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(parent)
