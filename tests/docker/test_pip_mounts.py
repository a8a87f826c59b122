"""docker/pip_mounts.py: the read-only mounts that give pip in the CPU twin's build this machine's
pip setup, from `pip config debug` / `pip config list` text written here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DEBUG = """env_var:
  PIP_CERT='/etc/ssl/certs/ca-certificates.crt'
env:
global:
  /etc/xdg/pip/pip.conf, exists: True
    global.constraint: /etc/xdg/pip/constraints.txt
  /etc/pip.conf, exists: False
user:
  /root/.config/pip/pip.conf, exists: True
    global.find-links: /opt/wheels
"""
LISTING = """:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple https://example.invalid/simple'
global.find-links='/opt/wheels'
global.index-url='file:///srv/index/simple/'
"""


@pytest.fixture(scope="module")
def mounts():
    spec = importlib.util.spec_from_file_location("pip_mounts", ROOT / "docker" / "pip_mounts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_only_existing_config_files(mounts):
    assert mounts.existing_config_files(DEBUG) == [
        Path("/etc/xdg/pip/pip.conf"), Path("/root/.config/pip/pip.conf")]


def test_values_give_paths_and_local_indexes_their_parent(mounts):
    """A local index's pages link ../../files: the folder above `simple` is mounted."""
    assert mounts.value_paths(LISTING) == [
        Path("/etc/ssl/certs/ca-certificates.crt"),
        Path("/etc/xdg/pip/constraints.txt"),
        Path("/opt/pypi"),
        Path("/opt/wheels"),
        Path("/srv/index"),  # a trailing slash changes nothing
    ]


def test_malformed_listing_names_the_line(mounts):
    with pytest.raises(ValueError, match=r"line 2: not key='value'"):
        mounts.value_paths("global.cert='/x'\nglobal.cert /y\n")


def test_mounts_are_read_only_deduplicated_and_nested_paths_dropped(mounts):
    paths = [Path("/opt/pypi"), Path("/opt/pypi/files"), Path("/opt/wheels"), Path("/opt/pypi"),
             Path("/missing")]
    exists = lambda p: p != Path("/missing")  # noqa: E731
    assert mounts.mount_options(paths, exists) == [
        "-v /opt/pypi:/opt/pypi:ro", "-v /opt/wheels:/opt/wheels:ro"]
