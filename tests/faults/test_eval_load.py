"""Issue 11 item 3: a checkpoint that does not hold every weight as saved never loads.

transformers 5.24 initialises a missing or renamed tensor at random and only prints a load
report, so `eval` used to score a half-random model with exit 0; a pickle `pytorch_model.bin`
loaded without a word. `load_native` now refuses each case naming the file or the tensors.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from internvl_da.model.load import load_native, weight_files, weights_fingerprint
from internvl_da.model.tiny import build_tiny_model

Q_PROJ = "language_model.model.layers.0.self_attn.q_proj.weight"
DOWN_PROJ = "language_model.model.layers.0.mlp.down_proj.weight"


@pytest.fixture()
def checkpoint(tmp_path):
    model, tokenizer = build_tiny_model("qwen2", seed=0)
    folder = tmp_path / "ckpt"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _edit(folder, change):
    tensors = load_file(folder / "model.safetensors")
    change(tensors)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})


def test_complete_checkpoint_loads_with_the_saved_weights(checkpoint):
    """Control: the checks pass a whole checkpoint, and the weights are the saved ones."""
    model, _ = load_native(checkpoint, dtype=torch.float32)
    again, _ = load_native(checkpoint, dtype=torch.float32)
    assert weights_fingerprint(model) == weights_fingerprint(again)
    assert torch.equal(model.state_dict()["model." + Q_PROJ.replace("language_model.model.",
                                                                    "language_model.")],
                       load_file(checkpoint / "model.safetensors")[Q_PROJ])


def test_missing_tensor_is_named_regression_random_init(checkpoint):
    _edit(checkpoint, lambda t: t.pop(Q_PROJ))
    with pytest.raises(ValueError, match=r"ckpt: checkpoint does not match the model; "
                                         r"missing: .*layers\.0\.self_attn\.q_proj\.weight"):
        load_native(checkpoint)


def test_renamed_tensor_names_both_names(checkpoint):
    _edit(checkpoint, lambda t: t.__setitem__("renamed." + Q_PROJ, t.pop(Q_PROJ)))
    with pytest.raises(ValueError, match=r"missing: .*q_proj\.weight; unexpected \(renamed or "
                                         r"from another architecture\): renamed\.language_model"):
        load_native(checkpoint)


def test_wrong_shape_is_named_not_a_bare_runtime_error(checkpoint):
    _edit(checkpoint, lambda t: t.__setitem__(DOWN_PROJ, torch.zeros(3, 3)))
    with pytest.raises(ValueError, match=r"wrong shape: .*layers\.0\.mlp\.down_proj\.weight"):
        load_native(checkpoint)


def test_pickle_weights_are_refused(checkpoint):
    tensors = load_file(checkpoint / "model.safetensors")
    (checkpoint / "model.safetensors").unlink()
    torch.save(tensors, checkpoint / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"pickle weights \['pytorch_model\.bin'\] refused: "
                                         r"internvl-da loads safetensors only"):
        load_native(checkpoint)


def test_truncated_weight_file_is_refused(checkpoint):
    """A write stopped by a kill or a full disk: shorter than its header says."""
    data = (checkpoint / "model.safetensors").read_bytes()
    (checkpoint / "model.safetensors").write_bytes(data[:-100])
    with pytest.raises(ValueError, match=r"model\.safetensors: incomplete safetensors file: "
                                         rf"{len(data) - 100} bytes, the header describes "
                                         rf"{len(data)}"):
        load_native(checkpoint)
    (checkpoint / "model.safetensors").write_bytes(data[:5])
    with pytest.raises(ValueError, match=r"truncated safetensors file \(5 bytes\)"):
        weight_files(checkpoint)


def test_shard_named_in_the_index_must_exist(checkpoint):
    tensors = load_file(checkpoint / "model.safetensors")
    (checkpoint / "model.safetensors").unlink()
    names = sorted(tensors)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half],
              "model-00002-of-00002.safetensors": names[half:]}
    for shard, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, checkpoint / shard, metadata={"format": "pt"})
    index = {"metadata": {}, "weight_map": {k: s for s, keys in shards.items() for k in keys}}
    (checkpoint / "model.safetensors.index.json").write_text(json.dumps(index))
    assert [f.name for f in weight_files(checkpoint)] == sorted(shards)
    (checkpoint / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 weight file\(s\) named in "
                                                r"model\.safetensors\.index\.json are missing: "
                                                r"\['model-00002-of-00002\.safetensors'\]"):
        load_native(checkpoint)


def test_trainer_checkpoint_without_completion_marker_is_refused(checkpoint):
    """A `checkpoint-N` counts only with train's marker, written last (issue 11 item 7)."""
    from internvl_da.train.checkpoints import MARKER

    folder = checkpoint.rename(checkpoint.with_name("checkpoint-40"))
    with pytest.raises(ValueError, match=rf"checkpoint-40: incomplete checkpoint \(no {MARKER}"):
        load_native(folder)
    (folder / MARKER).write_text(json.dumps({"step": 40, "config": {}}))
    load_native(folder)


def test_fingerprint_sees_one_changed_weight():
    model, _ = build_tiny_model("qwen2", seed=0)
    before = weights_fingerprint(model)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] += 1e-3
    assert weights_fingerprint(model) != before
    assert weights_fingerprint(build_tiny_model("qwen2", seed=0)[0]) == before


def test_internvl35_hub_id_is_not_told_to_convert(tmp_path, monkeypatch):
    """A 3.5 id passed as a checkpoint: its -HF checkpoint is native (spec internvl35.md §2)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        load_native("OpenGVLab/InternVL3_5-1B-HF")
    assert "fetch_native" in str(err.value) and "convert" not in str(err.value)


def test_original_layout_internvl35_points_at_the_hf_twin(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "architectures": ["InternVLChatModel"],
        "llm_config": {"architectures": ["Qwen3ForCausalLM"]}}))
    with pytest.raises(ValueError, match="InternVL3_5-1B-HF"):
        load_native(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({
        "architectures": ["InternVLChatModel"],
        "llm_config": {"architectures": ["Qwen2ForCausalLM"]}}))
    with pytest.raises(ValueError, match="original InternVL2 checkpoint: run `internvl-da "
                                         "convert"):
        load_native(tmp_path)
