"""Thinking-mode accounting (spec internvl35.md §9.2): the `<think>` share per benchmark and
the score after VLMEvalKit's SPLIT_THINK rule, for the InternVL3.5 template only; InternVL2's
metrics.json keeps exactly its keys (its dvc.lock entries must not change)."""

from __future__ import annotations

import json

import pytest

from internvl_da.eval import runner, thinking
from internvl_da.eval.generate import GenerationSettings, decode_response
from internvl_da.model.tiny import build_tiny_model

LR_FILE, LR_IMAGES = "prepared/remote/rsvqa_lr_test.json", "images/rsvqa/LR/Images_LR"


@pytest.mark.parametrize(("text", "split"), [
    ("<think>a</think>\n yes ", "yes"),
    ("<think>a</think>b</think> no", "no"),  # after the LAST </think>
    ("</think>yes", "yes"),  # no <think>: still split
    ("<think>unfinished", "<think>unfinished"),  # no </think>: unchanged
    ("  plain  ", "  plain  "),  # unchanged, not stripped (VLMEvalKit keeps it as is)
])
def test_split_think_is_vlmevalkit_rule(text, split):
    assert thinking.split_think(text) == split


def test_share_and_split_score_use_the_raw_text_and_refinalize():
    records = [{"id": 1, "prediction": "X", "raw_prediction": "<think>t</think>yes"},
               {"id": 2, "prediction": "no"}, {"id": 3, "prediction": "<think>only"},
               {"id": 4, "prediction": "yes"}]

    def finalize(r):
        return {**r, "raw_prediction": r["prediction"], "prediction": r["prediction"].upper()}

    def score(rs):
        return {"preds": [r["prediction"] for r in rs]}

    out = thinking.thinking_metrics(records, score, finalize)
    assert out["think_share"] == 0.5 and out["think_count"] == 2
    assert out["split_think"] == {"preds": ["YES", "NO", "<THINK>ONLY", "YES"]}
    with pytest.raises(ValueError, match="no prediction records"):
        thinking.thinking_metrics([], score)


def test_only_internvl35_templates_count_thinking():
    assert thinking.counts_thinking("internvl2_5")
    assert not any(thinking.counts_thinking(t) for t in ("Hermes-2", "internlm2-chat",
                                                         "phi3-chat"))


def fake_answers(think: bool):
    def answer_batch(model, tokenizer, settings, questions, image_paths):
        out = []
        for q in questions:
            answer = "yes" if int(q.split()[0][1:]) % 2 else "no"
            out.append(f"<think>\nlet me see\n</think>\n{answer}" if think and answer == "yes"
                       else answer)
        return out
    return answer_batch


def test_runner_records_think_share_and_split_score_for_internvl35(write_rsvqa_lr, tmp_path,
                                                                   monkeypatch):
    model, tok = build_tiny_model("qwen3", seed=0)
    write_rsvqa_lr(tmp_path / LR_FILE, tmp_path / LR_IMAGES, 4, question="q{i}",
                   size=(64, 64))
    prepared, images = tmp_path / "prepared", tmp_path / "images"
    settings = GenerationSettings("internvl2_5", 64, 4, 6)
    monkeypatch.setattr(runner, "answer_batch", fake_answers(True))
    thought = runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                                   tmp_path / "think")
    monkeypatch.setattr(runner, "answer_batch", fake_answers(False))
    direct = runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                                  tmp_path / "direct")
    assert thought["think_share"] == 0.5 and thought["think_count"] == 2
    assert direct["think_share"] == 0.0
    plain = {k: v for k, v in direct.items() if k not in ("think_share", "think_count",
                                                          "split_think")}
    assert thought["split_think"] == plain == direct["split_think"]
    assert thought != direct  # the raw score sees the thoughts
    saved = json.loads((tmp_path / "think" / "metrics.json").read_text())
    assert saved["think_share"] == 0.5 and "split_think" in saved


def test_internvl2_metrics_keep_their_keys(write_rsvqa_lr, tmp_path, monkeypatch):
    """Regression guard: InternVL2 outputs (and dvc.lock) unchanged by thinking accounting."""
    model, tok = build_tiny_model("qwen2", seed=0)
    write_rsvqa_lr(tmp_path / LR_FILE, tmp_path / LR_IMAGES, 4, question="q{i}",
                   size=(64, 64))
    prepared, images = tmp_path / "prepared", tmp_path / "images"
    monkeypatch.setattr(runner, "answer_batch", fake_answers(True))
    metrics = runner.run_benchmark("rsvqa-lr", model, tok, GenerationSettings("Hermes-2", 64, 4,
                                   6), prepared, images, tmp_path / "v2")
    records = [json.loads(line) for line in
               (tmp_path / "v2" / "predictions.jsonl").read_text().splitlines()]
    assert metrics == runner.BENCHMARKS["rsvqa-lr"].score(records)
    assert not {"think_share", "think_count", "split_think"} & set(metrics)


def test_internvl35_decoding_keeps_special_tokens_as_its_chat():
    """Spec internvl35.md §9.1 step 5: the 3.5 `chat()` decodes with skip_special_tokens=False
    (InternVL2's drops them); `<think>` is a plain added token either way."""
    _, tok = build_tiny_model("qwen3", seed=0)
    text = "<think>\nx\n</think>\n<ref>the car</ref><box>[[1, 2, 3, 4]]</box>"
    ids = tok.encode(text + "<|im_end|>junk", add_special_tokens=False)
    assert decode_response(tok, ids, "internvl2_5") == text  # cut at <|im_end|>, stripped
    ids = tok.encode(text, add_special_tokens=False)
    assert decode_response(tok, ids, "Hermes-2") == "<think>\nx\n</think>\nthe car[[1, 2, 3, 4]]"
