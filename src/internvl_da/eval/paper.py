"""The Mini-InternVL paper's published numbers (arXiv 2410.16261), as data.

Source: evaluation.md §8, which copies Tables 4, 5, 9 and 11. Values are kept as the strings
the tables print (so `91.6` stays `91.6`, and the `–` of an unreported cell stays `–`, stored
as None); `value()` gives them as floats. Scales follow the paper: Table 4 mixes fractions
(Acc, BLEU, ROUGE_L, CIDEr, Final) with 0-100 scores (ChatGPT, Match); Tables 5, 9 and 11 are
percentages. `SIZE_ROWS` names the Mini-InternVL rows of each size, before ("base") and after
("da") domain adaptation, where the table has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PaperTable:
    key: str
    source: str  # the paper table the numbers come from
    title: str
    columns: tuple[str, ...]
    rows: dict[str, tuple[str | None, ...]]  # row label -> printed values (None: "–")
    notes: dict[str, str] = field(default_factory=dict)  # row label -> caveat from the spec

    def cell(self, row: str, column: str) -> str | None:
        """The printed value, or None where the paper prints "–"."""
        if row not in self.rows:
            raise KeyError(f"{self.source}: no row {row!r}")
        if column not in self.columns:
            raise KeyError(f"{self.source}: no column {column!r}")
        return self.rows[row][self.columns.index(column)]


def _table(key, source, title, columns, rows, notes=None) -> PaperTable:
    for label, values in rows.items():
        if len(values) != len(columns):
            raise ValueError(f"{source} row {label!r}: {len(values)} values for "
                             f"{len(columns)} columns")
    return PaperTable(key, source, title, tuple(columns), dict(rows), dict(notes or {}))


_ = None  # the paper's "–"

TABLE4 = _table(
    "drivelm", "Table 4", "DriveLM-nuScenes v1.1 val (official CVPR 2024 leaderboard server)",
    ("Acc", "ChatGPT", "B1", "B2", "B3", "B4", "ROUGE_L", "CIDEr", "Match", "Final"),
    {
        "InternVL4Drive-v2": ("0.7339", "65.25", "0.7787", "0.7176", "0.6608", "0.6059",
                              "0.7449", "0.2061", "47.65", "0.6002"),
        "MTMM†": ("0.7473", "65.59", "0.76", "0.70", "0.64", "0.59", "0.74", "0.18", "0.45",
                  "0.5974"),
        "Team NVIDIA": ("0.7746", "59.89", _, _, _, _, _, _, _, "0.5884"),
        "MMFM_AD": ("0.6658", "63.92", _, _, _, _, _, _, _, "0.5732"),
        "Mini-InternVL-4B (no DA)": ("0.0", "54.45", "0.2405", "0.0801", "0.0252", "0.0084",
                                     "0.1927", "0.0018", "34.30", "0.3051"),
        "InternVL2-Llama3-76B": ("0.0", "52.50", "0.2100", "0.0884", "0.0249", "0.0078",
                                 "0.1848", "0.0001", "34.22", "0.2963"),
        "Mini-InternVL-DA-1B": ("0.7007", "63.84", "0.7362", "0.6767", "0.6214", "0.5678",
                                "0.7365", "0.1669", "39.76", "0.5686"),
        "Mini-InternVL-DA-2B": ("0.7628", "65.23", "0.7616", "0.7012", "0.6452", "0.5908",
                                "0.7447", "0.1914", "43.24", "0.5958"),
        "Mini-InternVL-DA-4B": ("0.7296", "63.97", "0.7642", "0.7032", "0.6463", "0.5914",
                                "0.7427", "0.1976", "42.16", "0.5821"),
    },
    {"MTMM†": "Match printed as 0.45 (sic; = 45 on the 0-100 scale)"},
)

TABLE5 = _table(
    "mme-realworld", "Table 5", "MME-RealWorld, Autonomous Driving",
    ("Perception", "Reasoning", "Avg."),
    {
        "GPT-4o": ("21.14", "26.41", "24.60"),
        "Claude 3.5 Sonnet": ("32.43", "31.92", "32.10"),
        "LLaVA-OneVision-7B": ("45.77", "34.08", "41.75"),
        "Qwen2-VL-7B": ("34.62", "31.47", "33.54"),
        "InternVL2-Llama3-76B": ("47.46", "35.71", "44.30"),
        "Mini-InternVL-1B": ("31.34", "22.47", "28.96"),
        "Mini-InternVL-2B": ("39.86", "30.13", "37.25"),
        "Mini-InternVL-4B": ("38.96", "33.11", "37.39"),
        "Mini-InternVL-DA-1B": ("42.95", "27.75", "38.87"),
        "Mini-InternVL-DA-2B": ("50.74", "40.48", "47.98"),
        "Mini-InternVL-DA-4B": ("53.14", "39.14", "49.38"),
    },
    {"GPT-4o": "Avg. aggregated differently from the InternVL rows (§8.2)",
     "Claude 3.5 Sonnet": "Avg. aggregated differently from the InternVL rows (§8.2)",
     "LLaVA-OneVision-7B": "Avg. aggregated differently from the InternVL rows (§8.2)",
     "Qwen2-VL-7B": "Avg. aggregated differently from the InternVL rows (§8.2)"},
)

TABLE9 = _table(
    "gmai", "Table 9", "GMAI-MMBench",
    ("Seg C", "Seg M", "2D Cls", "2D Det", "2D Mcls_acc", "2D Mcls_recall"),
    {
        "Qwen-VL-Chat": ("34.45", "35.20", "39.55", "22.04", "42.88", "81.23"),
        "LLaVA-NeXT-mistral-7B": ("36.29", "35.20", "39.34", "27.87", "44.05", "47.70"),
        "LLaVA-Med": ("18.45", "18.97", "21.15", "17.14", "45.84", "41.19"),
        "RadFM": ("20.43", "20.27", "25.71", "18.83", "40.98", "57.45"),
        "Claude3-Opus": ("33.56", "33.36", "32.17", "24.72", "45.31", "38.98"),
        "GPT-4V": ("47.87", "46.58", "42.24", "30.32", "45.21", "40.59"),
        "Mini-InternVL-1B": ("34.30", "34.55", "36.02", "24.08", "21.67", "8.57"),
        "Mini-InternVL-2B": ("35.33", "35.61", "38.08", "25.31", "43.52", "16.13"),
        "Mini-InternVL-4B": ("36.60", "36.99", "38.74", "26.01", "43.99", "16.25"),
        "Mini-InternVL-DA-1B": ("38.67", "39.44", "35.87", "23.09", "22.79", "8.99"),
        "Mini-InternVL-DA-2B": ("40.22", "39.46", "39.34", "25.59", "44.33", "16.20"),
        "Mini-InternVL-DA-4B": ("41.41", "40.45", "41.34", "24.84", "44.33", "16.59"),
    },
)

TABLE11 = _table(
    "remote", "Table 11", "Remote sensing: RSVQA-LR, RSVQA-HR test1/test2, DIOR-RSVG",
    ("LR Rural/Urban", "LR Presence", "LR Compare", "LR Avg", "HR1 Presence", "HR1 Compare",
     "HR1 Avg", "HR2 Presence", "HR2 Compare", "HR2 Avg", "DIOR-RSVG Acc@0.5"),
    {
        "RSVQA": ("90.00", "87.46", "81.50", "86.32", "90.43", "88.19", "83.12", "86.26",
                  "85.94", "77.50", _),
        "Bi-Modal": ("92.66", "91.06", "92.66", "91.63", "92.03", "91.83", "84.98", "89.37",
                     "89.62", "80.54", _),
        "EasyToHard": ("91.67", "90.66", "87.49", "89.94", "91.39", "89.75", "93.97", "87.97",
                       "87.68", "79.06", _),
        "GeoChat (as rendered)": ("94.00", "91.09", "90.33", "90.70", _, _, _, _, "58.45",
                                  "83.19", "72.30"),
        "SkyEyeGPT": ("75.00", "88.93", "88.63", "84.19", "84.95", "85.63", "85.29", "83.50",
                      "80.28", "81.89", "88.59"),
        "SkySenseGPT": ("95.00", "91.07", "92.00", "92.69", _, _, _, "69.14", "84.14",
                        "76.64", _),
        "Mini-InternVL-4B (no DA)": ("66.00", "64.64", "73.26", "69.55", "62.42", "79.20",
                                     "71.72", "65.73", "79.70", "73.55", "16.89"),
        "InternVL2-Llama3-76B": ("61.00", "66.29", "79.61", "73.77", "60.79", "77.47", "70.04",
                                 "63.30", "78.32", "71.71", "29.65"),
        "Mini-InternVL-DA-1B": ("95.00", "81.39", "91.6", "87.37", "92.24", "91.76", "91.98",
                                "89.38", "90.91", "90.24", "89.73"),
        "Mini-InternVL-DA-2B": ("93.00", "87.07", "91.85", "89.87", "92.33", "92.21", "92.27",
                                "89.60", "90.86", "90.30", "89.24"),
        "Mini-InternVL-DA-4B": ("92.00", "85.69", "92.18", "89.46", "92.42", "92.12", "92.25",
                                "89.25", "90.92", "90.18", "92.04"),
    },
    {"RSVQA": "Avg. from its own paper, includes count/area: not comparable (§8.4)",
     "Bi-Modal": "Avg. from its own paper, includes count/area: not comparable (§8.4)",
     "EasyToHard": "Avg. from its own paper, includes count/area: not comparable (§8.4)",
     "GeoChat (as rendered)": "likely shifted one column: HR2 Presence 58.45, Compare 83.19, "
                              "Avg 72.30, DIOR-RSVG – (§8.4)"},
)

TABLES: dict[str, PaperTable] = {t.key: t for t in (TABLE4, TABLE5, TABLE9, TABLE11)}

# (table key, size, "base" | "da") -> the table's row for that Mini-InternVL model.
SIZE_ROWS: dict[tuple[str, str, str], str] = {
    ("drivelm", "4b", "base"): "Mini-InternVL-4B (no DA)",
    ("remote", "4b", "base"): "Mini-InternVL-4B (no DA)",
    **{(key, size, "da"): f"Mini-InternVL-DA-{size.upper()}"
       for key in TABLES for size in ("1b", "2b", "4b")},
    **{(key, size, "base"): f"Mini-InternVL-{size.upper()}"
       for key in ("mme-realworld", "gmai") for size in ("1b", "2b", "4b")},
}
PAPER_SIZES = ("1b", "2b", "4b")


def value(table: str, row: str, column: str) -> float | None:
    """A published number as a float (None where the paper prints "–")."""
    text = TABLES[table].cell(row, column)
    return None if text is None else float(text)


def drivelm_final(acc: float, chatgpt: float, bleu: tuple[float, float, float, float],
                  rouge_l: float, cider: float, match: float) -> float:
    """DriveLM's final score (evaluation.md §6.3) from Table 4's sub-metrics and scales."""
    language = sum(bleu) / 4 / 3 + rouge_l / 3 + cider / 10 / 3
    return 0.4 * (chatgpt / 100) + 0.2 * language + 0.2 * (match / 100) + 0.2 * acc
