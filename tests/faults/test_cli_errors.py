"""Issue 11, item 12: expected errors print one line and exit non-zero; bugs keep their traceback.

Before the fix 61 of 71 failing cases printed a full traceback. Each case below runs through
`cli.main([...])` as a user would type it and must print exactly one stderr line, no
"Traceback", exit 1 (bad input) or 2 (usage), and name the file (and line) at fault.
"""

from __future__ import annotations

import json

import pytest

from internvl_da import cli, cli_errors


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "no_prediction.jsonl").write_text('{"id": 1, "question": "q"}\n')
    (tmp_path / "bad_json.jsonl").write_text('{"id": 1}\n{bad\n')
    (tmp_path / "bad_params.yaml").write_text("size: tiny\nrepeat_tmie: 1\n")
    return tmp_path


# (argv, exit code, text the line must contain)
BAD_INPUT = [
    (["score", "rsvqa-lr", "missing.jsonl"], 1, "missing.jsonl: No such file or directory"),
    (["score", "rsvqa-lr", "no_prediction.jsonl"], 1, "no_prediction.jsonl:1:"),
    (["score", "drivelm", "bad_json.jsonl"], 1, "bad_json.jsonl:2: invalid JSON"),
    (["stage", "validate", "--domain", "remote", "--params", "bad_params.yaml"], 1,
     "bad_params.yaml: repeat_tmie: unknown key"),
    (["convert", "nowhere", "out"], 1, "nowhere/config.json: No such file or directory"),
    (["stage", "eval"], 2, "eval needs --bench"),
    (["stage", "eval", "--bench", "gmai", "--results", "r", "--checkpoint", "models/tiny/base"], 2,
     "'models/tiny/base': expected NAME=DIR"),
    (["train", "--domain", "remote", "--set", "freeze_vit=no"], 1,
     "freeze_vit=no: expected a bool"),
]


def _one_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err + captured.out
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize("argv,code,text", BAD_INPUT, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else str(v))
def test_expected_errors_print_one_line(files, capsys, argv, code, text):
    assert cli.main(argv) == code
    line = _one_line(capsys)
    assert line.startswith("internvl-da")
    assert text in line


@pytest.mark.parametrize("argv", [
    ["eval", "rsvqa-lr", "--batch-size", "many"],
    ["evaluate"],
    ["score"],
])
def test_usage_errors_are_one_line_with_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    line = _one_line(capsys)
    assert line.startswith("internvl-da") and "--help" in line


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(files, where):
    argv = ["score", "rsvqa-lr", "missing.jsonl"]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(FileNotFoundError):
        cli.main(argv)


def test_debug_from_the_environment(files, monkeypatch):
    monkeypatch.setenv("INTERNVL_DA_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        cli.main(["score", "rsvqa-lr", "missing.jsonl"])


def test_a_bug_keeps_its_traceback(monkeypatch):
    """A KeyError from an expression (not a `raise` with a message) is a bug: it propagates."""
    from internvl_da.commands import report

    monkeypatch.setattr(report, "run", lambda args: {}["missing key"])
    with pytest.raises(KeyError):
        cli.main(["report", "--results", "r", "--size", "tiny"])


def test_deliberate_project_raise_is_expected_and_unquoted():
    """model/convert_keys.py raises KeyError('no mapping ...') on purpose: one line, no quotes."""
    import torch

    from internvl_da.model.convert_keys import to_native

    with pytest.raises(KeyError) as exc:
        to_native("not.a.tensor", torch.zeros(1), "qwen2")
    assert cli_errors.expected(exc.value)
    assert cli_errors.one_line(exc.value) == "no mapping for tensor 'not.a.tensor' (family qwen2)"


def test_library_type_error_is_a_bug():
    with pytest.raises(TypeError) as exc:
        json.dumps(object())
    assert not cli_errors.expected(exc.value)


def test_os_error_names_the_path(tmp_path):
    with pytest.raises(OSError) as exc:
        (tmp_path / "absent" / "x").read_text()
    assert cli_errors.one_line(exc.value) == f"{tmp_path}/absent/x: No such file or directory"
