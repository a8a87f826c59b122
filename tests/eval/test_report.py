"""results.md and flat metric files from hand-made `<model>/<bench>/metrics.json` trees."""

from __future__ import annotations

import json

import pytest

from internvl_da.eval.report import flatten, paper_rows, write_report

MME_BASE = {"overall": 0.3, "per_task": {"Perception": 0.35, "Reasoning": 0.2},
            "per_category": {"Objects_Count": 0.5}, "extractor": "internvl"}
MME_DA = {"overall": 0.455, "per_task": {"Perception": 0.5, "Reasoning": 0.3125},
          "per_category": {"Objects_Count": 0.5}, "extractor": "internvl"}
DRIVELM = {"accuracy": 0.7, "chatgpt": None, "match": None, "match_f1": 40.5, "final": None,
           "partial": 0.3, "language": {"Bleu_1": 0.7, "Bleu_2": 0.6, "Bleu_3": 0.5,
                                        "Bleu_4": 0.4, "ROUGE_L": 0.7, "CIDEr": 0.15}}
RSVQA = {"per_type": {"comp": 0.8333, "count": 0.3333, "presence": 0.4167, "rural_urban": 1.0},
         "counts": {"comp": 12, "count": 12, "presence": 24, "rural_urban": 11},
         "overall": 0.4068, "avg": 0.4255}


def make_tree(root, entries):
    for (model, bench), metrics in entries.items():
        path = root / model / bench / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(metrics))
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "results", {
        ("base", "mme-realworld"): MME_BASE, ("drivelm", "mme-realworld"): MME_DA,
        ("drivelm", "drivelm"): DRIVELM, ("remote", "rsvqa-lr"): RSVQA,
        ("remote", "dior-rsvg"): {"acc@0.5": 0.5, "correct": 1, "total": 2}})


def section(text, title):
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_before_and_after_rows_next_to_the_paper(tree):
    text = write_report(tree, size="1b")
    mme = section(text, "MME-RealWorld")
    assert "| ours: base (before adaptation) | 35.00 | 20.00 | 30.00 |" in mme
    assert "| ours: drivelm (after adaptation) | 50.00 | 31.25 | 45.50 |" in mme
    assert "| paper: Mini-InternVL-1B (Table 5) | 31.34 | 22.47 | 28.96 |" in mme
    assert "| paper: Mini-InternVL-DA-1B (Table 5) | 42.95 | 27.75 | 38.87 |" in mme
    assert "Mini-InternVL-2B" not in mme
    assert "our fraction x 100" in mme  # the scale is said
    assert "n/a in `ours" not in mme  # every cell of our rows present
    assert (tree / "results.md").read_text() == text


def test_missing_result_is_na_with_the_reason(tree):
    gmai = section(write_report(tree, size="2b"), "GMAI-MMBench")
    assert "| ours: base (before adaptation) | n/a | n/c |" in gmai
    assert "| ours: medical (after adaptation) | n/a |" in gmai
    assert "n/a: no result; the reason is listed" in gmai
    assert ("- n/a in `ours: medical (after adaptation)`: `medical/gmai/metrics.json` not found "
            "(not run).") in gmai
    assert "| paper: Mini-InternVL-DA-2B (Table 9) | – | 40.22 | 39.46 |" in gmai
    remote = section(write_report(tree, size="2b"), "Remote sensing")
    assert ("| ours: remote (after adaptation) | 100.00 | 41.67 | 83.33 | 42.55 | n/a | n/a | "
            "n/a | n/a | n/a | n/a | 50.00 |") in remote
    assert ("`remote/rsvqa-hr-test1/metrics.json` not found (not run); "
            "`remote/rsvqa-hr-test2/metrics.json` not found (not run).") in remote
    assert "Table 11 has no 2B row before adaptation." in remote


def test_drivelm_judge_columns_not_comparable(tree):
    drive = section(write_report(tree, size="4b"), "DriveLM")
    assert ("| ours: drivelm (after adaptation) | 0.7000 | n/c | 0.7000 | 0.6000 | 0.5000 | "
            "0.4000 | 0.7000 | 0.1500 | n/c | n/c | 40.50 | 0.3000 |") in drive
    assert "| paper: Mini-InternVL-4B (no DA) (Table 4) | 0.0 | 54.45 |" in drive
    assert drive.count("| – | – |") == 2  # Match F1 and Partial are not in the paper
    assert "n/c: not computed comparably" in drive
    # A judged value is shown, still marked † (not comparable with the server's judge).
    make_tree(tree, {("drivelm", "drivelm"): {**DRIVELM, "chatgpt": 61.5}})
    judged = section(write_report(tree, size="4b"), "DriveLM")
    assert "| ours: drivelm (after adaptation) | 0.7000 | 61.50 |" in judged
    assert "ChatGPT†" in judged and "† needs the GPT judge" in judged


def test_tiny_shows_paper_rows_as_reference_only(tree):
    mme = section(write_report(tree, size="tiny"), "MME-RealWorld")
    assert "paper:" not in mme
    for row in ("Mini-InternVL-1B", "Mini-InternVL-2B", "Mini-InternVL-4B",
                "Mini-InternVL-DA-1B", "Mini-InternVL-DA-2B", "Mini-InternVL-DA-4B"):
        assert f"| reference only: {row} (Table 5) |" in mme
    assert "size `tiny` is not a paper size" in mme
    rows, notes = paper_rows("drivelm", None)
    assert [r for _, r in rows] == ["Mini-InternVL-4B (no DA)", "Mini-InternVL-DA-1B",
                                    "Mini-InternVL-DA-2B", "Mini-InternVL-DA-4B"]
    assert "no --size given" in notes[0]


def test_flat_metric_files(tree):
    write_report(tree, size="1b")
    mme = json.loads((tree / "metrics" / "mme-realworld.json").read_text())["mme-realworld"]
    assert mme == {"base": {"overall": 0.3, "per_category/Objects_Count": 0.5,
                            "per_task/Perception": 0.35, "per_task/Reasoning": 0.2},
                   "drivelm": {"overall": 0.455, "per_category/Objects_Count": 0.5,
                               "per_task/Perception": 0.5, "per_task/Reasoning": 0.3125}}
    drive = json.loads((tree / "metrics" / "drivelm.json").read_text())["drivelm"]
    assert set(drive) == {"drivelm"}
    assert "chatgpt" not in drive["drivelm"]  # null: not a number
    assert drive["drivelm"]["language/CIDEr"] == 0.15
    assert sorted(p.name for p in (tree / "metrics").iterdir()) == [  # custom: a dvc metric
        "custom.json", "dior-rsvg.json", "drivelm.json", "mme-realworld.json", "rsvqa-lr.json"]
    assert json.loads((tree / "metrics" / "custom.json").read_text()) == {"custom": {}}
    assert "Your own domains" not in (tree / "results.md").read_text()


def test_custom_domains_show_domain_and_general_scores_before_and_after(tree):
    """Issue 14: for each adapted model, its domain score and the general held-out score
    before (base) and after adaptation, and what is missing."""
    def put(model, folder, metrics):
        path = tree / "custom" / model / folder / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(metrics))

    put("base", "general", {"task": "vqa", "accuracy": 0.5})
    put("base", "shelves", {"task": "vqa", "accuracy": 0.25, "exact_match": 0.2})
    put("shelves", "shelves", {"task": "vqa", "accuracy": 0.75, "exact_match": 0.7})
    put("shelves", "general", {"task": "vqa", "accuracy": 0.375})
    put("base", "tiles", {"task": "caption", "CIDEr": 0.1234})
    text = write_report(tree, size="1b")
    section = text[text.index("## Your own domains"):]
    assert "| shelves | vqa | accuracy (exact match after normalisation, %) | 25.00 | 75.00 | " \
           "+50.00 | 50.00 | 37.50 | -12.50 |" in section
    assert "| tiles | caption | CIDEr (CIDEr-D (pycocoevalcap)) | 0.123 | n/a | n/a | 50.00 | " \
           "n/a | n/a |" in section
    assert "`custom/tiles/tiles/metrics.json` not found" in section
    flat = json.loads((tree / "metrics" / "custom.json").read_text())["custom"]
    assert flat["shelves"] == {"general/accuracy": 0.375, "shelves/accuracy": 0.75,
                               "shelves/exact_match": 0.7}


def test_flatten_keeps_numbers_only():
    assert flatten({"b": {"y": 2, "x": None}, "a": True, "c": "text", "d": 1.5,
                    "e": float("nan")}) == {"b/y": 2, "d": 1.5}


def test_same_inputs_same_bytes(tree, tmp_path):
    first = write_report(tree, out=tmp_path / "a.md", size="1b")
    flat = (tree / "metrics" / "rsvqa-lr.json").read_bytes()
    second = write_report(tree, out=tmp_path / "b.md", size="1b")
    assert first == second
    assert (tmp_path / "a.md").read_bytes() == (tmp_path / "b.md").read_bytes()
    assert (tree / "metrics" / "rsvqa-lr.json").read_bytes() == flat
    assert not (tree / "results.md").exists()  # --out given


def test_official_extractor_is_labelled(tree):
    make_tree(tree, {("drivelm", "mme-realworld"): {**MME_DA, "extractor": "official"}})
    mme = section(write_report(tree, size="1b"), "MME-RealWorld")
    assert "| ours: drivelm (after adaptation) [official extractor] | 50.00 |" in mme


def test_errors_name_the_file(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="results folder not found"):
        write_report(tmp_path / "nope")
    with pytest.raises(ValueError, match=r"no <model>/<bench>/metrics\.json found"):
        write_report(tmp_path)
    bad = tmp_path / "base" / "gmai" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"overall": 0.5,\n oops}')
    with pytest.raises(ValueError, match=r"base/gmai/metrics.json: invalid JSON at line 2"):
        write_report(tmp_path)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object, found list"):
        write_report(tmp_path)
    bad.write_text('{"overall": 0.5}')
    make_tree(tmp_path, {("medcal", "gmai"): {"overall": 0.1}})  # typo in the model name
    text = write_report(tmp_path)
    assert f"ignored {tmp_path / 'medcal' / 'gmai'}" in capsys.readouterr().err
    assert "medcal" not in text and not (tmp_path / "metrics" / "medcal").exists()


def test_released_checkpoint_rows_between_paper_and_ours(tree):
    """Every table: paper / released checkpoint / ours (evaluation.md §9); the released row
    reads results/<size>/released-<domain>/<bench>, a missing metric is n/a with its reason."""
    make_tree(tree, {("released-drivelm", "mme-realworld"): {
        "overall": 0.3887, "per_task": {"Perception": 0.4295}}})
    text = write_report(tree, size="1b")
    mme = section(text, "MME-RealWorld")
    lines = [line for line in mme.splitlines() if line.startswith("| ") and "model" not in line]
    assert [line.split(" | ")[0] for line in lines] == [
        "| paper: Mini-InternVL-1B (Table 5)", "| paper: Mini-InternVL-DA-1B (Table 5)",
        "| released: OpenGVLab/Mini-InternVL2-1B-DA-DriveLM (our evaluation)",
        "| ours: base (before adaptation)", "| ours: drivelm (after adaptation)"]
    assert ("| released: OpenGVLab/Mini-InternVL2-1B-DA-DriveLM (our evaluation) | 42.95 | n/a "
            "| 38.87 |") in mme
    assert ("- n/a in `released: OpenGVLab/Mini-InternVL2-1B-DA-DriveLM (our evaluation)`: "
            "`released-drivelm/mme-realworld/metrics.json` has no `per_task/Reasoning`.") in mme
    for title, name in (("DriveLM", "DriveLM"), ("GMAI-MMBench", "Medical"),
                        ("Remote sensing", "RS")):
        assert f"| released: OpenGVLab/Mini-InternVL2-1B-DA-{name} (our evaluation) |" in \
            section(text, title)
    remote = section(write_report(tree, size="tiny"), "Remote sensing")
    assert "| released: stand-in for the DA-RS checkpoint (size tiny) | n/a |" in remote
    assert "`released-remote/dior-rsvg/metrics.json` not found (not run)" in remote
    flat = json.loads((tree / "metrics" / "mme-realworld.json").read_text())["mme-realworld"]
    assert flat["released-drivelm"] == {"overall": 0.3887, "per_task/Perception": 0.4295}


def test_internvl2_and_internvl35_side_by_side(tmp_path):
    """Issue 13: results/1b and results/internvl3.5-1b both exist: each table shows InternVL2
    (paper / released / ours) then InternVL3.5 (released n/a, base, adapted), same columns."""
    make_tree(tmp_path / "1b", {("base", "rsvqa-lr"): RSVQA, ("remote", "rsvqa-lr"): RSVQA})
    rsvqa_35 = {**RSVQA, "overall": 0.5, "avg": 0.6}
    make_tree(tmp_path / "internvl3.5-1b", {("base", "rsvqa-lr"): RSVQA,
                                            ("remote", "rsvqa-lr"): rsvqa_35})
    for results in ("1b", "internvl3.5-1b"):  # the same tables from either tree
        text = section(write_report(tmp_path / results, size="1b"), "Remote sensing")
        rows = [line for line in text.splitlines() if line.startswith("| ")]
        labels = [row.split(" | ")[0] for row in rows]
        ours = labels.index("| ours: base (before adaptation)")
        assert labels[ours + 1] == "| ours: remote (after adaptation)"
        assert labels[ours + 2] == ("| InternVL3.5 released: n/a (no released DA checkpoint for "
                                    "InternVL3.5)")
        assert labels[ours + 3:ours + 5] == ["| InternVL3.5: base (before adaptation)",
                                             "| InternVL3.5: remote (after adaptation)"]
        assert len({row.count(" | ") for row in rows}) == 1  # every row has the columns
        assert "| 60.00 |" in rows[ours + 4]  # the 3.5 tree's own avg (x100)
        assert "| 60.00 |" not in rows[ours + 1]  # InternVL2's from its own tree


def test_internvl35_tree_alone_has_no_internvl2_rows(tmp_path):
    make_tree(tmp_path / "internvl3.5-tiny", {("base", "rsvqa-lr"): RSVQA})
    text = write_report(tmp_path / "internvl3.5-tiny", size="tiny")
    assert "| InternVL3.5: base (before adaptation)" in text
    assert "| ours: " not in text and "released: stand-in" not in text


def test_family_param_labels_a_tree_whose_name_does_not_say(tmp_path):
    """An InternVL3.5 run with `family_dir: ""` writes results/tiny: `--family` (the pipeline
    passes params `family`) labels it InternVL3.5, never as the paper's InternVL2 rows."""
    make_tree(tmp_path / "tiny", {("base", "rsvqa-lr"): RSVQA})
    make_tree(tmp_path / "internvl3.5-tiny", {("base", "rsvqa-lr"): RSVQA})  # not looked up
    text = write_report(tmp_path / "tiny", size="tiny", family="internvl3.5")
    assert "| InternVL3.5: base (before adaptation)" in text
    assert "| ours: " not in text and "released: stand-in" not in text
    assert "| ours: base" in write_report(tmp_path / "tiny", size="tiny", family="internvl2")
