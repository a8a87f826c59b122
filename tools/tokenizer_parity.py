"""Ground truth for the original tokenizers: transformers 4.37.2 slow tokenizers, run for real.

    .venv/bin/python tools/tokenizer_parity.py [--venv /tmp/tf437] [--out FILE] [--check]

Builds (once) a separate virtual environment outside the repository with the reference stack
(transformers 4.37.2, tokenizers 0.15.2, sentencepiece, protobuf; no torch), writes the real
1B/2B/4B hub-layout tokenizer folders (tests/model/real_tokenizers.py), and tokenizes a corpus of
tricky strings plus whole training strings and generation prompts of the three templates with
the 4.37.2 tokenizers, the way the reference loads them (`use_fast=False, add_eos_token=False`).
2B needs the remote `InternLM2Tokenizer`; no remote code is run: a minimal stand-in with the
same facts is defined below (`_tokenize` = `sp_model.encode(text, out_type=str)`, BOS from
`sp_model.bos_id()`, its decode quirks). Writes {size: [{text, ids, tokens, decode,
decode_skip}]} as JSON (default tests/assets/real/original_ids.json). With --check, also
compares OriginalTokenizer with the result and prints the mismatches (exit 1 if any).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINS = ("transformers==4.37.2", "tokenizers==0.15.2", "sentencepiece", "protobuf")
TEMPLATES = {"1b": "Hermes-2", "2b": "internlm2-chat", "4b": "phi3-chat"}

# Runs inside the 4.37.2 environment (python -c); reads corpus JSON from argv[1], writes argv[2].
REFERENCE = r'''
import json, sys
import sentencepiece as spm
from transformers import AutoTokenizer, PreTrainedTokenizer

class InternLM2StandIn(PreTrainedTokenizer):
    """Facts of the remote tokenization_internlm2.InternLM2Tokenizer (not its code)."""
    vocab_files_names = {"vocab_file": "tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                 pad_token="</s>", sp_model_kwargs=None, add_bos_token=True,
                 add_eos_token=False, decode_with_prefix_space=False,
                 clean_up_tokenization_spaces=False, **kwargs):
        self.sp_model = spm.SentencePieceProcessor(**(sp_model_kwargs or {}))
        self.sp_model.Load(vocab_file)
        self.vocab_file = vocab_file
        self.add_bos_token, self.add_eos_token = add_bos_token, add_eos_token
        super().__init__(bos_token=bos_token, eos_token=eos_token, unk_token=unk_token,
                         pad_token=pad_token,
                         clean_up_tokenization_spaces=clean_up_tokenization_spaces, **kwargs)

    @property
    def vocab_size(self):
        return self.sp_model.get_piece_size()

    @property
    def bos_token_id(self):
        return self.sp_model.bos_id()

    @property
    def eos_token_id(self):
        return self.sp_model.eos_id()

    def get_vocab(self):
        vocab = {self.convert_ids_to_tokens(i): i for i in range(self.vocab_size)}
        vocab.update(self.added_tokens_encoder)
        return vocab

    def _tokenize(self, text):
        return self.sp_model.encode(text, out_type=str)

    def _convert_token_to_id(self, token):
        return self.sp_model.piece_to_id(token)

    def _convert_id_to_token(self, index):
        return self.sp_model.IdToPiece(index)

    def convert_tokens_to_string(self, tokens):
        out, current, prev_special = "", [], False
        for token in tokens:
            if token in self.all_special_tokens:
                if not prev_special:
                    out += " "
                out += self.sp_model.decode(current) + token
                prev_special, current = True, []
            else:
                current.append(token)
                prev_special = False
        out += self.sp_model.decode(current)
        out = self.clean_up_tokenization(out)
        # remote: `tokens[0] not in self.no_prefix_space_tokens` (a set of ints): always true
        out = " " + out
        return out[1:]

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        out = ([self.bos_token_id] if self.add_bos_token else []) + token_ids_0
        if token_ids_1 is not None:
            out = out + token_ids_1
        return out + ([self.eos_token_id] if self.add_eos_token else [])

corpus = json.load(open(sys.argv[1], encoding="utf-8"))
result = {}
for size, entry in corpus.items():
    if size == "2b":
        tok = InternLM2StandIn.from_pretrained(entry["folder"], add_eos_token=False)
    else:
        tok = AutoTokenizer.from_pretrained(entry["folder"], use_fast=False, add_eos_token=False)
    rows = []
    for text in entry["texts"]:
        ids = tok.encode(text)
        rows.append({"text": text, "ids": ids, "tokens": tok.convert_ids_to_tokens(ids),
                     "decode": tok.decode(ids),
                     "decode_skip": tok.decode(ids, skip_special_tokens=True)})
    meta = {"class": type(tok).__name__, "len": len(tok), "bos": tok.bos_token_id,
            "eos": tok.eos_token_id, "pad": tok.pad_token_id, "unk": tok.unk_token_id}
    result[size] = {"meta": meta, "rows": rows}
json.dump(result, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
'''

TRICKY = [
    "", " ", "  ", "\n", "hello", " hello", "  hello  ", "hello world", "a  b   c    d",
    "\n  - near\n  - far", "- item\n    - nested item\n\t- tab", "trailing spaces   ",
    "   leading spaces", "line1\n\nline2\n\n\n", "Count 1234 and 56.7, 0.001, 2024-05-02.",
    "图中有什么？一辆红色的车。", "中文 English 混合  text", "e\u0301 café naïve Ωμέγα",
    "emoji 🚗🚦 and symbols ©®™", "<ref>the car</ref><box>[[12, 340, 560, 999]]</box>",
    "Is <c1,CAM_FRONT,1088.3,497.5> moving? <c2,CAM_BACK,10.0,2.5> is not.",
    "<image>\nWhat is in the image?", "<img><IMG_CONTEXT><IMG_CONTEXT></img>\nQ",
    "<img><IMG_CONTEXT></img> \n  Q", "</img>\n\nx", "<s>inside</s> text",
    "▁already▁underscored ▁", "tab\tseparated\tvalues", "CRLF\r\nline\r\n",
    "<|im_start|>user\n  hi<|im_end|>", "<|im_start|>assistant\n\nA<|im_end|>",
    "<|system|>\nsys<|end|><|user|>\n  q  <|end|><|assistant|>\n a<|end|>",
    "<|end|>\n<|assistant|>\n", "x <|end|> y", "<|user|>", "<|user|>   ", "   <|user|>",
    "<|endoftext|>  after", "<quad>1,2</quad>", "<|plugin|> <|interpreter|>\nz",
    "numbers 3.14159 and 1e-10, 100000000", "It's don't we're I'm you've",
]


def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def conversations() -> list[tuple[list[dict], list[int]]]:
    """Training conversations of the parity corpus (also used by the template tests)."""
    def conv(*turns):
        return [{"from": "human" if i % 2 == 0 else "gpt", "value": v}
                for i, v in enumerate(turns)]
    return [
        (conv("<image>\nWhat colour is the car?", "Red."), [2]),
        (conv("What are the important objects in the current scene? Those objects will be "
              "considered for the future reasoning and driving decision.",
              "There is a white sedan to the front of the ego vehicle <c1,CAM_FRONT,1088.3,497.5>"
              ", a pedestrian <c2,CAM_FRONT_LEFT,120.8,600.0>.",
              "What is the moving status of object <c1,CAM_FRONT,1088.3,497.5>?",
              "Going ahead.", "Should the ego vehicle brake?", "No."), [13]),
        (conv("Describe the scene as a list.",
              "The scene:\n  - near: a truck\n  - far: two cars\n    - one parked\n\n**Done**"),
         [1]),
        (conv("  spaced question  ", "  spaced answer  "), [3]),
        (conv("图中有什么？", "一辆红色的车。", "Please detect <ref>the car</ref>",
              "<ref>the car</ref><box>[[12, 340, 560, 999]]</box>"), [1]),
        (conv("Image-1: <image>\nImage-2: <image>\nWhich is brighter?", "The second."),
         [4, 1]),
        (conv("q", "\nanswer after a newline"), []),
        (conv("Count 1234 and 56.", "1290"), []),
    ]


def corpus_texts(size: str) -> list[str]:
    sys.path.insert(0, str(ROOT / "src"))
    from internvl_da.data import templates

    template = TEMPLATES[size]
    texts = list(TRICKY)
    for convs, tiles in conversations():
        counts = [2 * t for t in tiles]  # 2 context tokens per tile keeps the JSON small
        texts.append(templates.training_string(template, convs, counts))
        question = convs[0]["value"]
        if counts:
            texts.append(templates.build_generation_prompt(template, question, counts))
    return texts


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    return python


def reference_ids(venv: Path, folders: dict[str, Path]) -> dict:
    python = ensure_venv(venv)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = {size: {"folder": str(folder), "texts": corpus_texts(size)}
                  for size, folder in folders.items()}
        (Path(tmp) / "corpus.json").write_text(json.dumps(corpus, ensure_ascii=False))
        env = {**os.environ, "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"}
        subprocess.run([str(python), "-c", REFERENCE, str(Path(tmp) / "corpus.json"),
                        str(Path(tmp) / "out.json")], check=True, env=env)
        return json.loads((Path(tmp) / "out.json").read_text(encoding="utf-8"))


def compare(result: dict, folders: dict[str, Path]) -> list[str]:
    """Mismatches of OriginalTokenizer against the recorded 4.37.2 rows."""
    sys.path.insert(0, str(ROOT / "src"))
    from internvl_da.model.original_tokenizer import load_original_tokenizer

    problems = []
    for size, entry in result.items():
        tok = load_original_tokenizer(folders[size])
        meta = entry["meta"]
        ours = {"len": len(tok), "bos": tok.bos_token_id, "eos": tok.eos_token_id,
                "pad": tok.pad_token_id, "unk": tok.unk_token_id}
        problems += [f"{size} {k}: {ours[k]} != {meta[k]}" for k in ours if ours[k] != meta[k]]
        for row in entry["rows"]:
            got = {"ids": tok.encode(row["text"]), "decode": None, "decode_skip": None}
            got["decode"] = tok.decode(row["ids"])
            got["decode_skip"] = tok.decode(row["ids"], skip_special_tokens=True)
            problems += [f"{size} {key} of {row['text'][:60]!r}: {got[key]!r} != {row[key]!r}"
                         for key in got if got[key] != row[key]]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/tf437"))
    parser.add_argument("--out", type=Path, default=ROOT / "tests/assets/real/original_ids.json")
    parser.add_argument("--check", action="store_true", help="compare OriginalTokenizer too")
    args = parser.parse_args(argv)
    builder = _load_module(ROOT / "tests/model/real_tokenizers.py", "real_tokenizers")
    with tempfile.TemporaryDirectory() as tmp:
        folders = {size: builder.write_real_tokenizer(size, Path(tmp) / size)
                   for size in TEMPLATES}
        result = reference_ids(args.venv, folders)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n",
                            encoding="utf-8")
        print(f"wrote {args.out}: " + ", ".join(f"{s} {len(e['rows'])} texts"
                                                for s, e in result.items()))
        if args.check:
            problems = compare(result, folders)
            print("\n".join(problems) or "OriginalTokenizer == transformers 4.37.2 on all texts")
            return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
