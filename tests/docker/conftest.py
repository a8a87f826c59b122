"""Shared fixtures for the container checks: docker/check_env.py as a module and docker/Dockerfile
parsed into instructions. No Docker engine is used anywhere in tests/docker."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Dockerfile:
    instructions: list[tuple[str, str]]  # (INSTRUCTION, arguments), continuation lines joined

    def all(self, name: str) -> list[str]:
        return [args for inst, args in self.instructions if inst == name]

    def args(self) -> dict[str, str]:
        """ARG name -> default ('' when the ARG has none). A stage's bare `ARG NAME` re-declares
        a global ARG and keeps its default."""
        found: dict[str, str] = {}
        for name, _, default in (arg.partition("=") for arg in self.all("ARG")):
            if default or name not in found:
                found[name] = default
        return found


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions in order; comments dropped, also those inside a continued instruction."""
    instructions, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            name, _, rest = current.partition(" ")
            instructions.append((name.upper(), " ".join(rest.split())))
            current = ""
    assert not current, "Dockerfile ends inside a continued instruction"
    return Dockerfile(instructions)


@pytest.fixture(autouse=True)
def _envelope():
    """These checks read files and run hadolint/make/bash only: no torch, so no seed envelope
    (the suite-wide fixture of the same name imports torch, seconds for nothing here)."""
    yield


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def parse():
    return parse_dockerfile


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    return parse_dockerfile((ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def check_env() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_env", ROOT / "docker" / "check_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
