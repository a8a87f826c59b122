"""Shared test doubles for the evaluation tests."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def _fake_client(replies):
    """A stand-in for the OpenAI client: the given replies in order; (client, recorded calls)."""
    calls = []

    def create(**kwargs):
        calls.append(kwargs)
        message = SimpleNamespace(content=replies[len(calls) - 1])
        return SimpleNamespace(choices=[SimpleNamespace(message=message)])

    return SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create))), calls


@pytest.fixture
def fake_client():
    return _fake_client
