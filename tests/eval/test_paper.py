"""The paper's numbers: rows checked against the spec's markdown text, DriveLM finals recomputed."""

from __future__ import annotations

import pytest

from internvl_da.eval.paper import SIZE_ROWS, TABLES, drivelm_final, value

# Lines copied verbatim from evaluation.md §8 (table key, number of leading non-value cells).
SPEC_LINES = [
    ("drivelm", 2, "| Mini-InternVL-4B (no DA) | 4B | 0.0 | 54.45 | 0.2405 | 0.0801 | 0.0252 | "
                   "0.0084 | 0.1927 | 0.0018 | 34.30 | 0.3051 |"),
    ("drivelm", 2, "| **Mini-InternVL-DA-1B** | 1B | 0.7007 | 63.84 | 0.7362 | 0.6767 | 0.6214 | "
                   "0.5678 | 0.7365 | 0.1669 | 39.76 | 0.5686 |"),
    ("mme-realworld", 1, "| Mini-InternVL-2B | 39.86 | 30.13 | 37.25 |"),
    ("mme-realworld", 1, "| **Mini-InternVL-DA-1B** | 42.95 | 27.75 | 38.87 |"),
    ("gmai", 2, "| Mini-InternVL-2B | 2B | 35.33 | 35.61 | 38.08 | 25.31 | 43.52 | 16.13 |"),
    ("gmai", 2, "| **Mini-InternVL-DA-1B** | 1B | 38.67 | 39.44 | 35.87 | 23.09 | 22.79 | 8.99 |"),
    ("remote", 2, "| GeoChat (as rendered) | 7B | 94.00 | 91.09 | 90.33 | 90.70 | – | – | – | – | "
                  "58.45 | 83.19 | 72.30 |"),
    ("remote", 2, "| **Mini-InternVL-DA-1B** | 1B | 95.00 | 81.39 | 91.6 | 87.37 | 92.24 | 91.76 | "
                  "91.98 | 89.38 | 90.91 | 90.24 | 89.73 |"),
]


@pytest.mark.parametrize("table,skip,line", SPEC_LINES)
def test_rows_match_the_spec_text(table, skip, line):
    cells = [c.strip() for c in line.strip("|").split("|")]
    label, printed = cells[0].strip("*"), cells[skip:]
    expected = tuple(None if c == "–" else c for c in printed)
    assert TABLES[table].rows[label] == expected


def test_values_and_dashes():
    assert value("remote", "Mini-InternVL-DA-1B", "LR Compare") == 91.6
    assert TABLES["remote"].cell("Mini-InternVL-DA-1B", "LR Compare") == "91.6"  # as printed
    assert value("drivelm", "Team NVIDIA", "B1") is None
    assert value("mme-realworld", "Mini-InternVL-DA-4B", "Avg.") == 49.38
    with pytest.raises(KeyError, match="no row"):
        value("gmai", "Mini-InternVL-DA-8B", "Seg C")
    with pytest.raises(KeyError, match="no column"):
        value("gmai", "Mini-InternVL-DA-1B", "Overall")


@pytest.mark.parametrize("row", ["InternVL4Drive-v2", "Mini-InternVL-4B (no DA)",
                                 "InternVL2-Llama3-76B", "Mini-InternVL-DA-1B",
                                 "Mini-InternVL-DA-2B", "Mini-InternVL-DA-4B"])
def test_drivelm_final_recomputes_from_submetrics(row):
    def v(col):
        return value("drivelm", row, col)

    final = drivelm_final(v("Acc"), v("ChatGPT"), (v("B1"), v("B2"), v("B3"), v("B4")),
                          v("ROUGE_L"), v("CIDEr"), v("Match"))
    assert abs(final - v("Final")) <= 1e-4


def test_drivelm_final_formula_by_hand():
    # language = 0.3/3 + 0.6/3 + 1.5/10/3 = 0.35; final = 0.4*0.5 + 0.2*0.35 + 0.2*0.25 + 0.2*0.5
    assert drivelm_final(0.5, 50, (0.3,) * 4, 0.6, 1.5, 25) == pytest.approx(0.42)


def test_size_rows_exist_in_their_tables():
    for (table, size, stage), row in SIZE_ROWS.items():
        assert row in TABLES[table].rows, (table, size, stage)
    assert ("drivelm", "1b", "base") not in SIZE_ROWS  # Table 4 has no 1B base row
    assert SIZE_ROWS[("gmai", "2b", "base")] == "Mini-InternVL-2B"
