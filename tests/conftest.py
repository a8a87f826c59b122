"""Shared test setup: one thread, fixed seeds (the determinism envelope of internvl_da.repro)."""

from __future__ import annotations

import pytest

from internvl_da import repro


@pytest.fixture(autouse=True)
def _envelope():
    repro.configure(seed=0, threads=1)
    yield
