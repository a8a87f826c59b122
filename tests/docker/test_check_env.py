"""docker/check_env.py, the build-time check of the image's environment, on hand-written cases and
on this (CPU) environment's real package metadata."""

from __future__ import annotations

import importlib.metadata as md
import sys

import pytest

STACK = {"python": "3.11", "torch": "2.8.0", "cuda": "12.8", "cxx11_abi": "TRUE"}


def test_stack_matches_with_a_local_version_label(check_env):
    observed = {"python": "3.11", "torch": "2.8.0+cu128", "cuda": "12.8", "cxx11_abi": "TRUE"}
    assert check_env.stack_mismatches(observed, STACK) == []


def test_stack_reports_each_difference(check_env):
    observed = {"python": "3.12", "torch": "2.13.0+cpu", "cuda": "None", "cxx11_abi": "TRUE"}
    assert check_env.stack_mismatches(observed, STACK) == [
        "python: the image has 3.12, this build expects 3.11",
        "torch: the image has 2.13.0, this build expects 2.8.0",
        "cuda: the image has None, this build expects 12.8",
    ]


def test_versions_local_label_matches_but_other_versions_do_not(check_env):
    installed = {"torch": "2.8.0+cu128", "numpy": "2.4.5"}.get
    pins = {"torch": "2.8.0", "numpy": "2.4.6", "pillow": "13.0.0"}
    assert check_env.version_mismatches(pins, installed) == [
        "numpy==2.4.6 is pinned but 2.4.5 is installed",
        "pillow==13.0.0 is not installed",
    ]


def test_requirements_honour_markers_and_extras(check_env):
    requires = {
        "peft": ["torch>=1.13.0", "numpy>=1.17", "pytest ; extra == 'test'"],
        "torch": ["triton==3.4.0 ; platform_system == 'Linux'", "nvidia-nccl-cu12==2.27.3"],
    }.get
    installed = {"peft": "0.21.2", "torch": "2.8.0+cu128", "numpy": "1.16.0", "triton": "3.4.0"}.get
    problems = check_env.unmet_requirements(["peft", "torch"], requires, installed)
    assert problems == [
        "peft requires numpy>=1.17, but numpy 1.16.0 is installed",
        "torch requires nvidia-nccl-cu12==2.27.3, which is not installed",
    ]


def _pin(name: str) -> str:
    return f"{name}=={md.version(name)}"


def test_main_passes_on_pins_of_this_environment(check_env, tmp_path, capsys):
    lock = tmp_path / "ok.lock"
    lock.write_text("\n".join(_pin(n) for n in ("pytest", "packaging", "pyyaml")) + "\n")
    assert check_env.main(["--lock", str(lock)]) == 0
    assert "environment ok" in capsys.readouterr().out


def test_main_fails_on_a_wrong_pin_and_names_it(check_env, tmp_path, capsys):
    lock = tmp_path / "bad.lock"
    lock.write_text(f"{_pin('packaging')}\npytest==0.0.1\n")
    assert check_env.main(["--lock", str(lock)]) == 1
    assert f"pytest==0.0.1 is pinned but {md.version('pytest')} is installed" in (
        capsys.readouterr().err
    )


def test_main_reports_a_malformed_lock_with_its_line(check_env, tmp_path, capsys):
    lock = tmp_path / "bad.lock"
    lock.write_text("pytest==9.2.0\nnumpy>=2\n")
    assert check_env.main(["--lock", str(lock)]) == 1
    assert "bad.lock:2: not an exact" in capsys.readouterr().err


def test_main_checks_the_stack(check_env, monkeypatch, capsys):
    monkeypatch.setattr(check_env, "observed_stack", lambda k: dict(STACK, torch="2.8.0+cu128"))
    assert check_env.main(["--torch", "2.8.0", "--cuda", "12.8", "--python", "3.11"]) == 0
    monkeypatch.setattr(check_env, "observed_stack", lambda k: dict(STACK, cuda="12.6"))
    assert check_env.main(["--cuda", "12.8"]) == 1
    assert "cuda: the image has 12.6, this build expects 12.8" in capsys.readouterr().err


def test_missing_flash_attn_is_reported(check_env, monkeypatch):
    monkeypatch.setattr(check_env, "installed_version", lambda name: None)
    assert check_env.flash_attn_problems("2.8.3") == [
        "flash-attn: not installed, this build expects 2.8.3"
    ]


def test_lock_with_a_duplicate_is_rejected(check_env, tmp_path):
    lock = tmp_path / "dup.lock"
    lock.write_text("PyYAML==6.0.4\npyyaml==6.0.4\n")
    with pytest.raises(ValueError, match=r"dup\.lock:2: pyyaml is pinned twice"):
        check_env.read_lock(lock)


def test_absent_modules_are_checked(check_env, capsys):
    assert check_env.present(["yaml", "torchvision_not_a_module"]) == ["yaml"]
    assert check_env.main(["--absent", "yaml"]) == 1
    assert "yaml is importable but must be absent" in capsys.readouterr().err


def test_python_check_needs_no_torch(check_env, monkeypatch, capsys):
    """The CPU twin's base has no torch when the Dockerfile's first RUN checks its Python."""
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert check_env.observed_stack({"python"}) == {"python": here}
    assert check_env.main(["--python", here]) == 0
    assert f"environment ok: python {here}" in capsys.readouterr().out
    with pytest.raises(ImportError):
        check_env.observed_stack({"python", "cuda"})
