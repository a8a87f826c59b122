"""Check a Python environment against a lock file and the CUDA stack of a flash-attn wheel.

Run by docker/Dockerfile at build time, so a base image or a lock that drifted stops the build:

    python docker/check_env.py --torch 2.8.0 --cuda 12.8 --python 3.11 --cxx11-abi TRUE
    python docker/check_env.py --lock docker/requirements-cuda.lock --torch 2.8.0 ... \\
        --flash-attn 2.8.3 --absent torchvision

Exit status 1 with one line per problem. Lock lines are `name==version` (a trailing `# comment` is
allowed); any other line is an error naming the file and line. Needs `packaging` only with --lock.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of `-_.` folded to `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    """Normalized name -> exact version; a line that is not a single `==` pin is an error."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: not an exact `name==version` pin: {raw.strip()!r}")
        name = normalize(match.group(1))
        if name in pins:
            raise ValueError(f"{path}:{number}: {name} is pinned twice")
        pins[name] = match.group(2)
    if not pins:
        raise ValueError(f"{path}: no pins")
    return pins


def installed_version(name: str) -> str | None:
    """Version of the installed distribution, None when absent."""
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def version_mismatches(pins: dict[str, str], installed: Callable[[str], str | None]) -> list[str]:
    """Pins whose installed version differs (a local label such as +cu128 matches its base pin)."""
    from packaging.specifiers import SpecifierSet

    problems = []
    for name, pinned in sorted(pins.items()):
        found = installed(name)
        if found is None:
            problems.append(f"{name}=={pinned} is not installed")
        elif not SpecifierSet(f"=={pinned}").contains(found, prereleases=True):
            problems.append(f"{name}=={pinned} is pinned but {found} is installed")
    return problems


def unmet_requirements(
    names: list[str],
    requires: Callable[[str], list[str] | None],
    installed: Callable[[str], str | None],
) -> list[str]:
    """Requirements (no extras, markers of this interpreter) of `names` that are missing or off."""
    from packaging.requirements import Requirement

    problems = []
    for name in sorted(names):
        for text in requires(name) or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            found = installed(req.name)
            if found is None:
                problems.append(f"{name} requires {req}, which is not installed")
            elif not req.specifier.contains(found, prereleases=True):
                problems.append(f"{name} requires {req}, but {req.name} {found} is installed")
    return problems


def stack_mismatches(observed: dict[str, str], expected: dict[str, str]) -> list[str]:
    """Entries of `expected` that `observed` does not match; torch is compared without +local."""
    problems = []
    for key, want in expected.items():
        got = observed.get(key, "absent")
        if key == "torch":
            got = got.split("+", 1)[0]
        if got != want:
            problems.append(f"{key}: the image has {got}, this build expects {want}")
    return problems


def observed_stack(keys: set[str]) -> dict[str, str]:
    """Python, torch, CUDA and C++ ABI of the running interpreter; torch is imported only when a
    key needs it (the CPU twin's base checks its Python before any torch is installed)."""
    observed = {"python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    if keys & {"torch", "cuda", "cxx11_abi"}:
        import torch

        observed |= {
            "torch": torch.__version__,
            "cuda": str(torch.version.cuda),
            "cxx11_abi": str(bool(torch._C._GLIBCXX_USE_CXX11_ABI)).upper(),
        }
    return observed


def flash_attn_problems(version: str) -> list[str]:
    """The flash-attn distribution has `version` and its CUDA extension loads against this torch."""
    found = installed_version("flash-attn")
    if found != version:
        return [f"flash-attn: {found or 'not installed'}, this build expects {version}"]
    try:
        importlib.import_module("torch")
        # an undefined symbol here is the wheel / torch mismatch
        importlib.import_module("flash_attn_2_cuda")
    except ImportError as err:
        return [f"flash-attn {version} does not load against this torch: {err}"]
    return []


def present(modules: list[str]) -> list[str]:
    """The modules of `modules` that the interpreter can import."""
    return [name for name in modules if importlib.util.find_spec(name) is not None]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, help="every pin installed, every requirement met")
    parser.add_argument("--torch", help="torch version without the +local label, e.g. 2.8.0")
    parser.add_argument("--cuda", help="torch.version.cuda, e.g. 12.8")
    parser.add_argument("--python", help="major.minor, e.g. 3.11")
    parser.add_argument("--cxx11-abi", choices=["TRUE", "FALSE"], help="torch's C++11 ABI flag")
    parser.add_argument("--flash-attn", help="flash-attn version that must import")
    parser.add_argument("--absent", nargs="+", default=[], help="modules that must not import")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    expected = {
        key: value
        for key, value in [
            ("python", args.python),
            ("torch", args.torch),
            ("cuda", args.cuda),
            ("cxx11_abi", args.cxx11_abi),
        ]
        if value is not None
    }
    problems = stack_mismatches(observed_stack(set(expected)), expected) if expected else []
    if args.lock is not None:
        try:
            pins = read_lock(args.lock)
        except (OSError, ValueError) as err:
            print(err, file=sys.stderr)
            return 1
        problems += version_mismatches(pins, installed_version)
        problems += unmet_requirements(sorted(pins), md.requires, installed_version)
    if args.flash_attn is not None:
        problems += flash_attn_problems(args.flash_attn)
    problems += [f"{name} is importable but must be absent" for name in present(args.absent)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("environment ok: " + ", ".join(f"{k} {v}" for k, v in expected.items()))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
