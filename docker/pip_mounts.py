"""Read-only bind mounts that give pip inside an image build this machine's own pip setup.

docker/cpu-twin.sh builds the CPU twin with `podman build -v ...`: pip in the build must reach the
package index and the local wheel folder exactly as pip on the host does (issue 12), yet nothing of
it may be baked into the image. So the build mounts, at their host paths, every pip config file
that exists (`pip config debug`) and every file or folder that a config value names (`pip config
list`: the CA bundle, the constraints file, find-links folders, file:// indexes).

    python3 docker/pip_mounts.py        # prints one `-v SRC:SRC:ro` option per line

Exit status 1 with a message when pip's output cannot be read.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# `pip config debug`: "  /etc/pip.conf, exists: True"
_FILE = re.compile(r"^\s+(/\S+), exists: (True|False)$")
# `pip config list`: "global.cert='/etc/ssl/certs/ca-certificates.crt'" (`:env:.cert=...` too)
_VALUE = re.compile(r"^(?P<key>[^=\s]+)='(?P<value>.*)'$")


def existing_config_files(debug: str) -> list[Path]:
    """The config files `pip config debug` reports as existing, in its order."""
    found = []
    for line in debug.splitlines():
        match = _FILE.match(line)
        if match and match.group(2) == "True":
            found.append(Path(match.group(1)))
    return found


def value_paths(listing: str) -> list[Path]:
    """Absolute paths named by config values (file:// URLs as their path); others are skipped."""
    paths = []
    for number, line in enumerate(listing.splitlines(), start=1):
        if not line.strip():
            continue
        match = _VALUE.match(line.strip())
        if match is None:
            raise ValueError(f"pip config list, line {number}: not key='value': {line!r}")
        for word in match.group("value").split():
            path = word.removeprefix("file://")
            if not path.startswith("/"):
                continue
            # a local PEP 503 index links its files relatively (/opt/pypi/simple/x/index.html
            # -> ../../files/x.whl): the folder holding `simple` is what pip reads
            is_index = match.group("key").endswith("index-url") and Path(path).name == "simple"
            paths.append(Path(path).parent if is_index else Path(path))
    return paths


def mount_options(paths: list[Path], exists=Path.exists) -> list[str]:
    """`-v P:P:ro` for each existing path, sorted, without paths inside another mounted one."""
    kept: list[Path] = []
    for path in sorted({p for p in paths if exists(p)}):
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return [f"-v {p}:{p}:ro" for p in kept]


def _pip(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "pip", "config", *args],
        check=True, capture_output=True, text=True,
    ).stdout


def main() -> int:
    try:
        paths = existing_config_files(_pip("debug")) + value_paths(_pip("list"))
    except (subprocess.CalledProcessError, ValueError) as err:
        print(f"pip_mounts: {err}", file=sys.stderr)
        return 1
    print("\n".join(mount_options(paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
