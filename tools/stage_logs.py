"""`dvc repro 2>&1 | python tools/stage_logs.py LOGDIR`: a line per stage on screen, logs in files.

Issue 11 (item 13): `make demo` printed 1,291 lines. This filter writes each stage's output to
LOGDIR/<stage>.log (DVC's own lines before the first stage to LOGDIR/dvc.log) and prints one line
per stage with its wall time; it shows DVC's ERROR lines and the CLI's one-line errors
(`internvl-da...: ...`), then the tail of the failing stage's log. DVC's line formats
(dvc/stage/run.py, dvc/repo/reproduce.py): "Running stage 'NAME':", "Stage 'NAME' didn't change,
skipping", "ERROR: ...".
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

RUNNING = re.compile(r"^Running stage '([^']+)':")
UNCHANGED = re.compile(r"^Stage '([^']+)' didn't change, skipping")
SHOWN = re.compile(r"^(ERROR|internvl-da[^:]*: )")
TAIL_LINES = 15


def events(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(kind, text) per input line: ('start', stage), ('unchanged', stage), ('show', line) for
    errors, ('log', line) for the rest."""
    for line in lines:
        if m := RUNNING.match(line):
            yield "start", m[1]
        elif m := UNCHANGED.match(line):
            yield "unchanged", m[1]
        elif SHOWN.match(line):
            yield "show", line
        else:
            yield "log", line


def run(lines: Iterable[str], logdir: Path, out=sys.stdout, clock=time.monotonic) -> list[str]:
    """Split `lines` into logdir/<stage>.log, print the summary to `out`; return the error lines."""
    logdir.mkdir(parents=True, exist_ok=True)
    log_path, started, errors = logdir / "dvc.log", None, []
    log = log_path.open("w", encoding="utf-8")

    def finish() -> None:
        if started is not None:
            print(f" {clock() - started:6.1f} s", file=out, flush=True)

    try:
        for kind, text in events(lines):
            if kind == "start":
                finish()
                log.close()
                log_path, started = logdir / f"{text}.log", clock()
                log = log_path.open("w", encoding="utf-8")
                print(f"  {text:<24} log {log_path}", end="", file=out, flush=True)
            elif kind == "unchanged":
                print(f"  {text:<24} unchanged", file=out, flush=True)
            log.write(text if kind != "start" else f"Running stage '{text}':\n")
            log.flush()
            if kind == "show":
                if started is not None:
                    print(file=out)
                    started = None
                errors.append(text.rstrip("\n"))
                print(text.rstrip("\n"), file=out, flush=True)
        finish()
    finally:
        log.close()
    if errors and log_path.name != "dvc.log":
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL_LINES:]
        print(f"--- last lines of {log_path} ---", *tail, sep="\n", file=out)
    return errors


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: dvc repro 2>&1 | python tools/stage_logs.py LOGDIR", file=sys.stderr)
        return 2
    stream = (line.decode("utf-8", "replace") for line in sys.stdin.buffer)
    run(stream, Path(argv[0]))
    return 0  # the pipeline's status is dvc's (make runs with pipefail)


if __name__ == "__main__":
    raise SystemExit(main())
