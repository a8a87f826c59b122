"""`internvl-da report` through the CLI: markdown on stdout and in the file, clear errors."""

from __future__ import annotations

import json

from internvl_da import cli


def write(root, model, bench, metrics):
    path = root / model / bench / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics))


def test_report_prints_and_writes(tmp_path, capsys):
    write(tmp_path, "base", "dior-rsvg", {"acc@0.5": 0.25, "correct": 1, "total": 4})
    write(tmp_path, "remote", "dior-rsvg", {"acc@0.5": 0.75, "correct": 3, "total": 4})
    assert cli.main(["report", "--results", str(tmp_path), "--size", "1b"]) == 0
    out = capsys.readouterr().out
    assert out == (tmp_path / "results.md").read_text()
    assert "| ours: remote (after adaptation) | n/a |" in out and "| 75.00 |" in out
    assert "| released: OpenGVLab/Mini-InternVL2-1B-DA-RS (our evaluation) | n/a |" in out
    flat = json.loads((tmp_path / "metrics" / "dior-rsvg.json").read_text())
    # keyed by benchmark so that dvc exp show's column names are unique and short
    assert flat == {"dior-rsvg": {"base": {"acc@0.5": 0.25, "correct": 1, "total": 4},
                                  "remote": {"acc@0.5": 0.75, "correct": 3, "total": 4}}}


def test_report_out_and_errors(tmp_path, capsys):
    assert cli.main(["report", "--results", str(tmp_path)]) == 1
    assert "no <model>/<bench>/metrics.json found" in capsys.readouterr().err
    write(tmp_path, "base", "gmai", {"overall": 0.4})
    assert cli.main(["report", "--results", str(tmp_path), "--size", "7b"]) == 1
    assert "unknown model size '7b'" in capsys.readouterr().err
    out = tmp_path / "docs" / "table.md"
    assert cli.main(["report", "--results", str(tmp_path), "--out", str(out)]) == 0
    assert out.read_text() == capsys.readouterr().out
    assert "no --size given" in out.read_text()
