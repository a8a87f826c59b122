"""The tiny InternVL3.5 evaluates through the same runner: internvl2_5 prompt with the 3.5
system message (thinking off, spec internvl35.md §9.1-§9.2), stop at `<|im_end|>`, batched ==
one by one, resumable output, scored by the benchmark's scorer."""

from __future__ import annotations

import json

import torch

from internvl_da.data.templates import SYSTEM_MESSAGE_35
from internvl_da.eval import runner
from internvl_da.eval.generate import GenerationSettings, prompt_inputs
from internvl_da.model.families import get_model
from internvl_da.model.tiny import build_tiny_model

LR_FILE, LR_IMAGES = "prepared/remote/rsvqa_lr_test.json", "images/rsvqa/LR/Images_LR"


def model_and_settings():
    spec = get_model("internvl3.5", "tiny")
    model, tok = build_tiny_model(spec.llm_family, seed=0)
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0, 0.3)
    model.eval()
    return model, tok, GenerationSettings(spec.template, spec.image_size, spec.tokens_per_tile, 6)


def test_prompt_is_the_internvl2_5_chat_prompt_with_the_3_5_system_message(write_rsvqa_lr,
                                                                            tmp_path):
    _, tok, settings = model_and_settings()
    write_rsvqa_lr(tmp_path / LR_FILE, tmp_path / LR_IMAGES, 1)
    images = tmp_path / "images"
    ids, pixels = prompt_inputs(tok, settings, "Is there a road?",
                                str(images / "rsvqa/LR/Images_LR/0.tif"))
    text = tok.decode(ids)
    assert text.startswith(f"<|im_start|>system\n{SYSTEM_MESSAGE_35}<|im_end|>\n<|im_start|>user\n"
                           "<img>")
    assert text.endswith("</img>\nIs there a road?<|im_end|>\n<|im_start|>assistant\n")
    assert ids.count(tok.context_image_token_id) == 4 * pixels.shape[0]


def test_runner_batched_equals_sequential_and_scores(write_rsvqa_lr, tmp_path):
    model, tok, settings = model_and_settings()
    write_rsvqa_lr(tmp_path / LR_FILE, tmp_path / LR_IMAGES, 5)
    prepared, images = tmp_path / "prepared", tmp_path / "images"
    batched = runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                                   tmp_path / "b", batch_size=3)
    single = runner.run_benchmark("rsvqa-lr", model, tok, settings, prepared, images,
                                  tmp_path / "s", batch_size=1)
    assert batched == single and batched["counts"] == {"presence": 5}
    lines = (tmp_path / "b" / "predictions.jsonl").read_text().splitlines()
    assert (tmp_path / "s" / "predictions.jsonl").read_text().splitlines() == lines
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == list(range(5))
    assert all("<|im_end|>" not in r["prediction"] for r in records)  # cut at the stop token
