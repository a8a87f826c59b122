"""VLMEvalKit registration: the exact config.py entry, and clear errors for the wrong layout."""

from __future__ import annotations

import json

import pytest

from internvl_da import cli
from internvl_da.eval.vlmevalkit import check_original, registration_snippet

AUTO_MAP = {"AutoConfig": "configuration_internvl_chat.InternVLChatConfig",
            "AutoModel": "modeling_internvl_chat.InternVLChatModel",
            "AutoModelForCausalLM": "modeling_internvl_chat.InternVLChatModel"}


def original(path, code=True, architectures=("InternVLChatModel",), weights=True):
    path.mkdir(parents=True)
    config = {"architectures": list(architectures), "auto_map": AUTO_MAP,
              "template": "Hermes-2", "llm_config": {"architectures": ["Qwen2ForCausalLM"]}}
    (path / "config.json").write_text(json.dumps(config))
    if weights:
        (path / "model.safetensors").write_bytes(b"")
    if code:
        for name in ("configuration_internvl_chat.py", "modeling_internvl_chat.py"):
            (path / name).write_text("")
    return path


def test_snippet_registers_the_absolute_path(tmp_path, monkeypatch):
    ckpt = original(tmp_path / "ckpt")
    monkeypatch.chdir(tmp_path)
    text = registration_snippet("ckpt", "Mini-InternVL-DA-1B")
    entry = (f"    'Mini-InternVL-DA-1B': partial(InternVLChat, model_path={str(ckpt)!r}, "
             "version='V2.0'),")
    assert entry in text.splitlines()
    assert "4d6d204e" in text and "`internvl_series`" in text
    assert ("python run.py --data GMAI-MMBench_VAL --model Mini-InternVL-DA-1B "
            "--judge exact_matching") in text.splitlines()
    assert "Qwen2ForCausalLM" in text and "Hermes-2" in text
    assert "WARNING" not in text


def test_missing_remote_code_is_named(tmp_path):
    info = check_original(original(tmp_path / "ckpt", code=False))
    assert info.missing_code == ("configuration_internvl_chat.py", "modeling_internvl_chat.py")
    text = registration_snippet(tmp_path / "ckpt", "m")
    assert text.splitlines()[-1].startswith("# WARNING: configuration_internvl_chat.py, "
                                            "modeling_internvl_chat.py missing")


def test_native_layout_is_refused_with_the_convert_hint(tmp_path):
    native = original(tmp_path / "native", architectures=("InternVLForConditionalGeneration",))
    with pytest.raises(ValueError, match=r"not the original InternVL layout.*convert "
                                         r"--to-internvl"):
        check_original(native)


@pytest.mark.parametrize("setup,message", [
    (lambda p: None, "checkpoint folder not found"),
    (lambda p: p.mkdir(), "no config.json.*convert --to-internvl"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{oops")), "invalid JSON at line 1"),
    (lambda p: original(p, weights=False), "no weights"),
])
def test_bad_folders(tmp_path, setup, message):
    setup(tmp_path / "ckpt")
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        check_original(tmp_path / "ckpt")


def test_bad_name(tmp_path):
    original(tmp_path / "ckpt")
    with pytest.raises(ValueError, match="model name 'a b'"):
        registration_snippet(tmp_path / "ckpt", "a b")


def test_cli(tmp_path, capsys):
    original(tmp_path / "ckpt")
    assert cli.main(["export-vlmevalkit", "--checkpoint", str(tmp_path / "ckpt"),
                     "--name", "DA-1B"]) == 0
    assert "'DA-1B': partial(InternVLChat" in capsys.readouterr().out
    assert cli.main(["export-vlmevalkit", "--checkpoint", str(tmp_path), "--name", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("internvl-da: ") and len(err.strip().splitlines()) == 1
