"""Fixtures of tests/model: the real hub-layout tokenizer folders (tests/model/real_tokenizers.py).

`--import-mode=importlib` puts no test folder on sys.path, so the builder module is loaded by
path once here; tests use the fixtures, or `real_tokenizers_module` for its functions.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "internvl_da_tests_real_tokenizers", Path(__file__).with_name("real_tokenizers.py"))
real_tokenizers = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(real_tokenizers)


@pytest.fixture(scope="session")
def real_tokenizers_module():
    """The builder module: write_real_tokenizer(size, folder), REAL_TEMPLATES, ..."""
    return real_tokenizers


@pytest.fixture(scope="session")
def real_tokenizer_dirs(tmp_path_factory) -> dict[str, Path]:
    """{"1b"|"2b"|"4b": folder} written once per session (treat as read-only)."""
    root = tmp_path_factory.mktemp("real_tokenizers")
    return {size: real_tokenizers.write_real_tokenizer(size, root / size)
            for size in real_tokenizers.REAL_TOKENIZER_WRITERS}


@pytest.fixture
def real_tokenizer_folder(tmp_path):
    """Factory: real_tokenizer_folder("2b", folder=None) -> a fresh hub-layout folder."""
    def write(size: str, folder: str | Path | None = None) -> Path:
        return real_tokenizers.write_real_tokenizer(size, folder or tmp_path / f"tok-{size}")
    return write
