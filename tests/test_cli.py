"""The CLI routes every registered subcommand and explains itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

from internvl_da import cli


def test_help_lists_groups(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "prep" in out and "data" in out


@pytest.mark.parametrize("group,name", [k for k in cli.COMMANDS if k[0] is not None])
def test_every_subcommand_has_help(group, name, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([group, name, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage: internvl-da")


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "internvl_da", "--help"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "internvl-da" in proc.stdout
