"""DriveLM challenge scorer: cases written from evaluation.md §6.3-6.5 and Table 4 (§8.1)."""

from __future__ import annotations

import json
import types

import pytest

from internvl_da.data.errors import SampleError
from internvl_da.eval import drivelm_challenge as ch
from internvl_da.eval import ptb
from internvl_da.eval.judge import Judge, JudgeCache

KEYS = ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"]

# Table 4 rows with every sub-metric: Acc, ChatGPT, B1..B4, ROUGE_L, CIDEr, Match, Final.
TABLE4 = {
    "InternVL4Drive-v2": (0.7339, 65.25, [0.7787, 0.7176, 0.6608, 0.6059, 0.7449, 0.2061],
                          47.65, 0.6002),
    "Mini-InternVL-4B": (0.0, 54.45, [0.2405, 0.0801, 0.0252, 0.0084, 0.1927, 0.0018],
                         34.30, 0.3051),
    "InternVL2-Llama3-76B": (0.0, 52.50, [0.2100, 0.0884, 0.0249, 0.0078, 0.1848, 0.0001],
                             34.22, 0.2963),
    "Mini-InternVL-DA-1B": (0.7007, 63.84, [0.7362, 0.6767, 0.6214, 0.5678, 0.7365, 0.1669],
                            39.76, 0.5686),
    "Mini-InternVL-DA-2B": (0.7628, 65.23, [0.7616, 0.7012, 0.6452, 0.5908, 0.7447, 0.1914],
                            43.24, 0.5958),
    "Mini-InternVL-DA-4B": (0.7296, 63.97, [0.7642, 0.7032, 0.6463, 0.5914, 0.7427, 0.1976],
                            42.16, 0.5821),
}


@pytest.mark.parametrize("name", TABLE4)
def test_final_from_table4_sub_metrics(name):
    acc, chatgpt, language, match, published = TABLE4[name]
    final = ch.final_score(chatgpt, dict(zip(KEYS, language, strict=True)), match, acc)
    assert abs(final - published) <= 1e-4


def test_final_and_partial_by_hand():
    language = dict(zip(KEYS, [0.4, 0.3, 0.2, 0.1, 0.6, 1.5], strict=True))
    # (0.4+0.3+0.2+0.1)/4/3 + 0.6/3 + 1.5/10/3 = 0.0833.. + 0.2 + 0.05
    assert ch.language_score(language) == pytest.approx(1 / 12 + 0.2 + 0.05)
    final = ch.final_score(50.0, language, 40.0, 0.5)
    assert final == pytest.approx(0.4 * 0.5 + 0.2 * (1 / 12 + 0.25) + 0.2 * 0.4 + 0.2 * 0.5)
    assert ch.partial_score(language, 80.0, 0.5) == pytest.approx(
        0.2 * (1 / 12 + 0.25) + 0.1 * 0.8 + 0.2 * 0.5)
    # weights go by key position, as the reference's enumerate over dict keys
    reordered = dict(zip(["CIDEr", *KEYS[:5]], [0.4, 0.3, 0.2, 0.1, 0.6, 1.5], strict=True))
    assert ch.language_score(reordered) == ch.language_score(language)


def item(i, frame="s_f", q="Q?", a="A.", tags=(0,)):
    return ch.GTItem(f"{frame}_{i}", frame, q, a, tuple(tags))


def test_accuracy_is_exact_and_case_sensitive():
    items = [item(0, a="Yes."), item(1, a="Yes."), item(2, a="No."), item(3, a="B")]
    preds = {"s_f_0": "Yes.", "s_f_1": "Yes", "s_f_2": "no.", "s_f_3": "B"}
    metrics, details = ch.evaluate(items, preds)
    assert metrics["accuracy"] == 0.5  # trailing period missing and lowercase are wrong
    assert [d["correct"] for d in details] == [True, False, False, True]
    assert metrics["chatgpt"] is None and metrics["final"] is None
    assert "tag(s) 1, 2, 3" in metrics["note"]


@pytest.mark.parametrize("pred,gt,f1", [
    ("<c1,CAM_FRONT,100.0,200.0>", "<c1,CAM_FRONT,108.0,207.9>", 1.0),  # L1 15.9 < 16
    ("<c1,CAM_FRONT,100.0,200.0>", "<c1,CAM_FRONT,108.0,208.0>", 0.0),  # L1 exactly 16: miss
    ("<c1,CAM_FRONT,100.0,200.0>", "<c1,CAM_FRONT,84.0,200.0>", 0.0),
    ("100.0 200.0 7.5", "100.0 200.0", 1.0),  # odd prediction count: the last number dropped
    ("100 200", "100.0 200.0", 0.0),  # integers are not coordinates
    ("", "100.0 200.0", 0.0),
    ("100.0 200.0", "", 0.0),
])
def test_match_f1_cases(pred, gt, f1):
    assert ch.match_result(pred, gt)[1] == pytest.approx(f1, abs=1e-7)


def test_match_is_greedy_in_prediction_order():
    # p1 (100, 100) is nearest to g2 (105, 100) and takes it; p2 (110, 100) would match g2
    # too (L1 5) but only g1 (90, 100, L1 20) is left: FP. TP 1, FP 1, FN 1 -> F1 0.5.
    matched, f1 = ch.match_result("100.0 100.0 110.0 100.0", "90.0 100.0 105.0 100.0")
    assert matched == [(105.0, 100.0)]
    assert f1 == pytest.approx(0.5, abs=1e-7)
    # equal distances: the first GT point wins
    assert ch.match_result("100.0 100.0", "95.0 100.0 105.0 100.0")[0] == [(95.0, 100.0)]


def test_odd_ground_truth_count_is_a_clear_error():
    with pytest.raises(ValueError, match=r"s_f_0 ground truth: odd number of coordinates \(3\)"):
        ch.match_result("1.0 2.0", "1.0 2.0 3.0", "s_f_0")


def test_graph_filter_skips_questions_about_unmatched_objects():
    first = "There is <c1,CAM_FRONT,100.0,200.0> and <c2,CAM_BACK,300.0,400.0>."
    items = [item(0, a=first, tags=(2,)),
             item(1, q="Is <c1,CAM_FRONT,100.0,200.0> moving?", a="Yes."),
             item(2, q="Is <c2,CAM_BACK,300.0,400.0> moving?", a="No."),
             item(3, q="Both <c1,CAM_FRONT,100.0,200.0> <c2,CAM_BACK,300.0,400.0>?", a="No."),
             item(4, q="What should the ego vehicle do?", a="Stop."),
             item(0, frame="t_g", q="Q", a="<c1,CAM_FRONT,300.0,400.0>", tags=(2,)),
             item(1, frame="t_g", q="Is <c1,CAM_FRONT,300.0,400.0> ok?", a="Yes.")]
    preds = {"s_f_0": "Only <c1,CAM_FRONT,110.0,204.0>.", "s_f_1": "Yes.", "s_f_2": "No.",
             "s_f_3": "No.", "s_f_4": "Go.", "t_g_0": "nothing", "t_g_1": "Yes."}
    # the graph holds GT points matched by the first prediction: frame s_f has only c1, and
    # frame t_g has none (the graphs are per frame)
    assert ch.select(items, preds) == [True, True, False, False, True, True, False]
    metrics, details = ch.evaluate(items, preds, None)
    assert metrics["accuracy"] == 0.5  # s_f_1 right, s_f_4 wrong; skipped ones are not wrong
    assert metrics["counts"]["skipped"] == 3
    assert metrics["counts"]["per_tag"]["0"] == {"scored": 2, "skipped": 3}
    assert [d["skipped"] for d in details] == [False, False, True, True, False, False, True]


def test_missing_prediction_names_the_ids():
    with pytest.raises(ValueError, match=r"1 ground-truth ids have no prediction.*s_f_1"):
        ch.evaluate([item(0), item(1)], {"s_f_0": "x"})


def _coco_eval_reference(answers, gts, monkeypatch):
    """pycocoevalcap's documented entry point (COCO + loadRes + COCOEvalCap) built as
    language_evaluation.CocoEvaluator builds it, METEOR/SPICE replaced (not used by DriveLM)."""
    from pycocoevalcap import eval as coco_eval
    from pycocotools.coco import COCO

    class Skip:
        def compute_score(self, gts, res):
            return 0.0, [0.0] * len(gts)

        def method(self):
            return "skipped"

    monkeypatch.setattr(coco_eval, "Meteor", Skip)
    monkeypatch.setattr(coco_eval, "Spice", Skip)
    # the released tokenizer, run from a writable folder (a non-root user cannot write to the
    # package folder, e.g. in the container: issue 12)
    monkeypatch.setattr(coco_eval, "PTBTokenizer",
                        lambda: types.SimpleNamespace(tokenize=ptb.tokenize))
    ann = {"images": [], "info": "", "type": "captions", "annotations": [], "licenses": ""}
    res = []
    for i, (answer, gt) in enumerate(zip(answers, gts, strict=True)):
        ann["images"].append({"id": i})
        ann["annotations"].append({"caption": gt.replace("_UNK", "_UNKNOWN"), "id": i,
                                   "image_id": i})
        res.append({"caption": answer, "id": i, "image_id": i})
    coco = COCO()
    coco.dataset = ann
    coco.createIndex()
    evaluator = coco_eval.COCOEvalCap(coco, coco.loadRes(res))
    evaluator.evaluate()
    return {k: evaluator.eval[k] for k in KEYS}


def test_language_metrics_equal_pycocoevalcap(monkeypatch):
    answers = ["There is a red car to the front of the ego vehicle.",
               "A truck to the back left, and a pedestrian.",
               "Nothing important."]
    gts = ["There is a red car to the front of the ego vehicle <c1,CAM_FRONT,800.0,450.0>.",
           "A blue truck to the back left _UNK.",
           "Nothing important."]
    ours = ch.language_metrics(answers, gts)
    assert list(ours) == KEYS
    assert ours == _coco_eval_reference(answers, gts, monkeypatch)


def test_language_metrics_by_hand():
    same = ch.language_metrics(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert same["Bleu_1"] == pytest.approx(1.0, abs=1e-8)
    assert same["Bleu_4"] == pytest.approx(1.0, abs=1e-8)
    assert same["ROUGE_L"] == 1.0
    assert same["CIDEr"] == 0.0  # one-pair corpus: every n-gram has IDF log(1/1) = 0
    # lowercased and punctuation dropped by the PTB tokenizer; half the unigrams match and the
    # lengths are equal (no brevity penalty)
    half = ch.language_metrics(["The cat, the dog."], ["the cow the pig"])
    assert half["Bleu_1"] == pytest.approx(0.5, abs=1e-8)


def test_language_metrics_need_java(monkeypatch):
    monkeypatch.setattr(ch.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="need Java"):
        ch.language_metrics(["a"], ["a"])


def test_full_score_with_a_judge_and_its_replay(tmp_path, fake_client):
    items = [item(0, a="There is <c1,CAM_FRONT,100.0,200.0>.", tags=(2,)),
             item(1, a="Yes."),
             item(2, q="Plan?", a="Slow down.", tags=(1,)),
             item(3, q="Notice?", a="Notice <c1,CAM_FRONT,100.0,200.0>.", tags=(3,))]
    preds = {"s_f_0": "There is <c1,CAM_FRONT,101.0,200.0>.", "s_f_1": "Yes.",
             "s_f_2": "Stop.", "s_f_3": "Notice <c1,CAM_FRONT,300.0,200.0>."}
    client, calls = fake_client(["62", "40"])
    judge = Judge(JudgeCache(tmp_path / "judge.jsonl"), client)
    metrics, details = ch.evaluate(items, preds, judge)
    assert len(calls) == 2 and metrics["note"] is None
    assert metrics["chatgpt"] == 62.0 and metrics["accuracy"] == 1.0
    assert metrics["match_f1"] == 0.0 and metrics["match"] == 20.0  # (0 + 40) / 2
    language = metrics["language"]
    assert metrics["final"] == pytest.approx(
        0.4 * 0.62 + 0.2 * ch.language_score(language) + 0.2 * 0.2 + 0.2 * 1.0)
    assert details[3] == {"id": "s_f_3", "tags": [3], "correct": None, "f1": 0.0,
                          "skipped": False}
    replay, _ = ch.evaluate(items, preds, Judge(JudgeCache(tmp_path / "judge.jsonl")))
    assert replay == {**metrics, "judge": replay["judge"]}
    offline, _ = ch.evaluate(items, preds)
    assert offline["chatgpt"] is offline["match"] is offline["final"] is None
    assert offline["match_f1"] == 0.0 and offline["partial"] == pytest.approx(
        0.2 * ch.language_score(language) + 0.2 * 1.0)
    assert "2 judge scores missing" in offline["note"]


def test_gt_file_and_its_errors(tmp_path):
    raw = {"s": {"key_frames": {"f": {"QA": {
        "behavior": [{"Q": "B?", "A": "A", "tag": [0]}],
        "perception": [{"Q": "P?", "A": "x <c1,CAM_FRONT,1.0,2.0>", "tag": [2, 3]}]}}}}}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(raw))
    assert ch.load_gt(path) == [ch.GTItem("s_f_0", "s_f", "P?", "x <c1,CAM_FRONT,1.0,2.0>",
                                          (2, 3)),
                                ch.GTItem("s_f_1", "s_f", "B?", "A", (0,))]
    cases = [({"Q": "B?", "tag": [0]}, "QA 1: needs string 'Q' and 'A'"),
             ({"Q": "B?", "A": "A"}, "QA 1: no 'tag'"),
             ({"Q": "B?", "A": "A", "tag": "0"}, "QA 1: 'tag' must be a list of integers")]
    for qa, reason in cases:
        raw["s"]["key_frames"]["f"]["QA"]["behavior"] = [qa]
        path.write_text(json.dumps(raw))
        with pytest.raises(SampleError, match=rf"gt\.json: scene s frame f {reason}"):
            ch.load_gt(path)


def test_read_predictions_both_formats_and_errors(tmp_path):
    out = tmp_path / "output.json"
    out.write_text(json.dumps([{"question": "q", "answer": "Yes.", "gt_answers": "", "id": "a"}]))
    assert ch.read_predictions(out) == ({"a": "Yes."}, None)
    jsonl = tmp_path / "p.jsonl"
    rows = [{"id": "a", "prediction": "No.", "answer": "Yes."}]
    jsonl.write_text(json.dumps(rows[0]) + "\n\n")
    assert ch.read_predictions(jsonl) == ({"a": "No."}, rows)
    jsonl.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"id": "b"}) + "\n")
    with pytest.raises(SampleError, match=r"p\.jsonl:2: missing string field 'prediction'"):
        ch.read_predictions(jsonl)
    out.write_text(json.dumps([{"id": 3, "answer": "x"}]))
    with pytest.raises(SampleError, match=r"output\.json: record 0: missing string field 'id'"):
        ch.read_predictions(out)
