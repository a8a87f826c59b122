"""Exported folders load in the original stack: transformers 4.37.2 + trust_remote_code.

    .venv/bin/python tools/export_parity.py [--venv /tmp/tf437] [--sizes 1b 2b 4b] [--keep DIR]

For each size: writes a real-config two-layer checkpoint in the hub layout
(tests/model/real_checkpoints.py: real config, real tokenizer files, stand-in remote code),
converts it to native and back (`convert`, `convert --to-internvl`), then, in a separate
environment with the reference stack (transformers 4.37.2, tokenizers 0.15.2, sentencepiece,
protobuf; no torch, which 4.37.2 does not need for configs and slow tokenizers), loads the
EXPORTED folder the way InternVL and VLMEvalKit do:
    AutoConfig.from_pretrained(path, trust_remote_code=True)
    AutoTokenizer.from_pretrained(path, trust_remote_code=True, use_fast=False)
and checks: the config loads (its LLM config class and rope_scaling as in the original), and
the tokenizer gives the ids of internvl_da's OriginalTokenizer on the original folder for every
check text (model/convert_tokens.py CHECK_TEXTS: runs of spaces, newlines after special tokens,
Chinese, digits, grounding tags) plus `<IMG_CONTEXT>`. A control run writes back the config the
old converter produced (rope_scaling with rope_theta / rope_type added) and must be refused.
Caveat: the remote-code files are stand-ins (tests/model/remote_standins.py), since the real
ones are not available here; 1B (Qwen2Tokenizer) and 4B (LlamaTokenizer) tokenize with
transformers' own classes, 2B with the stand-in InternLM2Tokenizer. Exit 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINS = ("transformers==4.37.2", "tokenizers==0.15.2", "sentencepiece", "protobuf<5")

# Runs inside the 4.37.2 environment: argv[1] = JSON {name: {path, texts}}, prints JSON results.
LOADER = r'''
import json, sys
from transformers import AutoConfig, AutoTokenizer
import transformers
jobs = json.loads(open(sys.argv[1]).read())
out = {"transformers": transformers.__version__}
for name, job in jobs.items():
    row = {}
    try:
        config = AutoConfig.from_pretrained(job["path"], trust_remote_code=True)
        row["config"] = type(config).__name__
        row["llm_config"] = type(config.llm_config).__name__
        row["rope_scaling"] = getattr(config.llm_config, "rope_scaling", None)
    except Exception as err:
        row["config_error"] = f"{type(err).__name__}: {err}"[:300]
    if job["texts"]:
        tok = AutoTokenizer.from_pretrained(job["path"], trust_remote_code=True, use_fast=False)
        row["tokenizer"] = type(tok).__name__
        row["ids"] = [tok.encode(t) for t in job["texts"]]
        row["img_context"] = tok.convert_tokens_to_ids("<IMG_CONTEXT>")
    out[name] = row
print(json.dumps(out))
'''


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_venv(venv: Path) -> Path:
    """The reference environment's python (built once with PINS)."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import transformers; print(transformers.__version__)"]
    if python.is_file() and subprocess.run(probe, capture_output=True, text=True
                                           ).stdout.strip() == "4.37.2":
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    return python


def build_exports(sizes: list[str], root: Path) -> dict[str, dict]:
    """{job: {path, texts, expected ids, original config}} for each size, plus a control."""
    sys.path.insert(0, str(ROOT / "src"))
    from internvl_da.model.convert import convert_to_internvl, convert_to_native
    from internvl_da.model.convert_tokens import CHECK_TEXTS
    from internvl_da.model.original_tokenizer import load_original_tokenizer

    checkpoints = _module(ROOT / "tests/model/real_checkpoints.py", "real_checkpoints")
    jobs = {}
    for size in sizes:
        # distinct folder names: 4.37.2 caches remote code per folder name (transformers_modules)
        orig, export = root / size / "original", root / size / f"export-{size}"
        config, _ = checkpoints.write_checkpoint(orig, size, narrow=True)
        convert_to_native(orig, root / size / "native")
        convert_to_internvl(root / size / "native", export)
        tok = load_original_tokenizer(orig)
        jobs[size] = {"path": str(export), "texts": list(CHECK_TEXTS),
                      "expected": [tok.encode(t) for t in CHECK_TEXTS],
                      "img_context": tok.convert_tokens_to_ids("<IMG_CONTEXT>"),
                      "rope_scaling": config["llm_config"].get("rope_scaling")}
        if config["llm_config"].get("rope_scaling"):  # the config the old converter wrote
            control = root / size / f"control-{size}"
            control.mkdir()
            for path in export.iterdir():
                if path.suffix in (".py", ".json"):
                    (control / path.name).write_bytes(path.read_bytes())
            bad = json.loads((control / "config.json").read_text())
            bad["llm_config"]["rope_scaling"].update(rope_theta=10000.0, rope_type="x")
            (control / "config.json").write_text(json.dumps(bad))
            jobs[f"{size}-control"] = {"path": str(control), "texts": []}
    return jobs


def compare(jobs: dict, results: dict) -> list[str]:
    """Human-readable lines; those starting with FAIL make the run fail."""
    lines = [f"reference stack: transformers {results['transformers']}"]
    for name, job in jobs.items():
        row = results[name]
        if name.endswith("-control"):
            ok = "config_error" in row
            lines.append(f"{'ok  ' if ok else 'FAIL'} {name}: mutated rope_scaling "
                         f"{'refused: ' + row.get('config_error', '')[:90] if ok else 'accepted'}")
            continue
        if "config_error" in row:
            lines.append(f"FAIL {name}: AutoConfig: {row['config_error']}")
            continue
        same = [a == b for a, b in zip(row["ids"], job["expected"], strict=True)]
        ok = all(same) and row["img_context"] == job["img_context"] and \
            row["rope_scaling"] == job["rope_scaling"]
        lines.append(f"{'ok  ' if ok else 'FAIL'} {name}: {row['config']}/{row['llm_config']}, "
                     f"{row['tokenizer']}: {sum(same)}/{len(same)} texts same ids, "
                     f"<IMG_CONTEXT>={row['img_context']} (expected {job['img_context']})")
        lines += [f"     differs: {t!r}" for t, s in zip(job["texts"], same, strict=True)
                  if not s]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/tf437"))
    parser.add_argument("--sizes", nargs="+", default=["1b", "2b", "4b"])
    parser.add_argument("--keep", type=Path, help="write the folders here (default: a temp dir)")
    args = parser.parse_args(argv)
    python = ensure_venv(args.venv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        jobs = build_exports(args.sizes, root)
        spec = root / "jobs.json"
        spec.write_text(json.dumps({k: {"path": v["path"], "texts": v["texts"]}
                                    for k, v in jobs.items()}))
        run = subprocess.run([str(python), "-c", LOADER, str(spec)], capture_output=True,
                             text=True, cwd=root)
        if run.returncode:
            print(run.stderr[-3000:], file=sys.stderr)
            return 1
        lines = compare(jobs, json.loads(run.stdout.strip().splitlines()[-1]))
    print("\n".join(lines))
    return int(any(line.startswith("FAIL") for line in lines))


if __name__ == "__main__":
    raise SystemExit(main())
