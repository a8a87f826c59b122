"""Minimal stand-ins for the remote-code files the InternVL2 hub folders ship.

The real `configuration_*.py` / `tokenization_internlm2.py` of InternVL2-1B/2B/4B are not
available here. These stand-ins keep what decides whether transformers 4.37.2 with
`trust_remote_code=True` (how InternVL and VLMEvalKit load) accepts a folder:
- `InternVLChatConfig(vision_config, llm_config)` builds its LLM config from
  `llm_config["architectures"][0]` (Qwen2 / Llama from transformers, InternLM2 / Phi-3 from the
  folder's own files), as the original configuration_internvl_chat.py does;
- the InternLM2 config refuses a `rope_scaling` that is not exactly {type, factor} (the original
  message: "rope_scaling must be a dictionary with with two fields, type and factor"), and the
  Phi-3 config one that is not exactly {type, short_factor, long_factor} with `su`/`yarn`;
- the InternLM2 slow tokenizer is SentencePiece on `./tokenizer.model`, BOS added, no EOS.
They are written into test checkpoints by tests/model/real_checkpoints.py; only the parity tool
(tools/export_parity.py) imports them, inside its own transformers 4.37.2 environment.
"""

from __future__ import annotations

from pathlib import Path

INTERN_VIT = '''"""Stand-in for InternVL2's configuration_intern_vit.py (test fixture)."""
from transformers.configuration_utils import PretrainedConfig


class InternVisionConfig(PretrainedConfig):
    model_type = "intern_vit_6b"

    def __init__(self, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                 intermediate_size=4096, image_size=448, patch_size=14, qkv_bias=True,
                 qk_normalization=False, norm_type="layer_norm", layer_norm_eps=1e-6,
                 hidden_act="gelu", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.num_hidden_layers = hidden_size, num_hidden_layers
        self.num_attention_heads, self.intermediate_size = num_attention_heads, intermediate_size
        self.image_size, self.patch_size, self.qkv_bias = image_size, patch_size, qkv_bias
        self.qk_normalization, self.norm_type = qk_normalization, norm_type
        self.layer_norm_eps, self.hidden_act = layer_norm_eps, hidden_act
'''

INTERNLM2 = '''"""Stand-in for InternVL2-2B's configuration_internlm2.py (test fixture)."""
from transformers.configuration_utils import PretrainedConfig


class InternLM2Config(PretrainedConfig):
    model_type = "internlm2"

    def __init__(self, vocab_size=103168, hidden_size=4096, num_attention_heads=32,
                 num_key_value_heads=None, rope_scaling=None, rope_theta=10000, **kwargs):
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.rope_scaling, self.rope_theta = rope_scaling, rope_theta
        self._rope_scaling_validation()
        super().__init__(**kwargs)

    def _rope_scaling_validation(self):
        if self.rope_scaling is None:
            return
        if not isinstance(self.rope_scaling, dict) or len(self.rope_scaling) != 2:
            raise ValueError("`rope_scaling` must be a dictionary with with two fields, `type` "
                             f"and `factor`, got {self.rope_scaling}")
        if self.rope_scaling.get("type") not in ("linear", "dynamic"):
            raise ValueError(f"`rope_scaling`'s type must be linear or dynamic, got "
                             f"{self.rope_scaling.get('type')}")
        factor = self.rope_scaling.get("factor")
        if factor is None or not isinstance(factor, float) or factor < 1.0:
            raise ValueError(f"`rope_scaling`'s factor must be a float >= 1, got {factor}")
'''

PHI3 = '''"""Stand-in for InternVL2-4B's configuration_phi3.py (test fixture)."""
from transformers.configuration_utils import PretrainedConfig


class Phi3Config(PretrainedConfig):
    model_type = "phi3"

    def __init__(self, vocab_size=32064, hidden_size=3072, num_attention_heads=32,
                 rope_scaling=None, rope_theta=10000.0, original_max_position_embeddings=4096,
                 **kwargs):
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        self.num_attention_heads, self.rope_theta = num_attention_heads, rope_theta
        self.original_max_position_embeddings = original_max_position_embeddings
        self.rope_scaling = rope_scaling
        self._rope_scaling_validation()
        super().__init__(**kwargs)

    def _rope_scaling_validation(self):
        if self.rope_scaling is None:
            return
        if not isinstance(self.rope_scaling, dict) or len(self.rope_scaling) != 3:
            raise ValueError("`rope_scaling` must be a dictionary with three fields, `type`, "
                             f"`short_factor` and `long_factor`, got {self.rope_scaling}")
        if self.rope_scaling.get("type") not in ("su", "yarn"):
            raise ValueError(f"`rope_scaling`'s type must be su or yarn, got "
                             f"{self.rope_scaling.get('type')}")
        half = self.hidden_size // self.num_attention_heads // 2
        for key in ("short_factor", "long_factor"):
            if len(self.rope_scaling.get(key) or []) != half:
                raise ValueError(f"`rope_scaling`'s {key} must have length {half}")
'''

INTERNVL_CHAT = '''"""Stand-in for InternVL2's configuration_internvl_chat.py (test fixture)."""
import copy

from transformers import AutoConfig, LlamaConfig, Qwen2Config
from transformers.configuration_utils import PretrainedConfig

from .configuration_intern_vit import InternVisionConfig
{llm_import}

class InternVLChatConfig(PretrainedConfig):
    model_type = "internvl_chat"
    is_composition = True

    def __init__(self, vision_config=None, llm_config=None, template=None, **kwargs):
        super().__init__(**kwargs)
        self.vision_config = InternVisionConfig(**(vision_config or {{}}))
        llm_config = llm_config or {{"architectures": ["Qwen2ForCausalLM"]}}
        arch = llm_config["architectures"][0]
        classes = {{"LlamaForCausalLM": LlamaConfig, "Qwen2ForCausalLM": Qwen2Config,
                    {llm_entry}}}
        if arch not in classes:
            raise ValueError(f"Unsupported architecture: {{arch}}")
        self.llm_config = classes[arch](**llm_config)
        self.template = template

    def to_dict(self):
        output = copy.deepcopy(self.__dict__)
        output["vision_config"] = self.vision_config.to_dict()
        output["llm_config"] = self.llm_config.to_dict()
        output["model_type"] = self.__class__.model_type
        return output
'''

TOKENIZATION_INTERNLM2 = '''"""Stand-in for InternVL2-2B's tokenization_internlm2.py (fixture)."""
import sentencepiece as spm
from transformers.tokenization_utils import PreTrainedTokenizer


class InternLM2Tokenizer(PreTrainedTokenizer):
    vocab_files_names = {"vocab_file": "./tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                 pad_token="</s>", add_bos_token=True, add_eos_token=False, **kwargs):
        self.vocab_file = vocab_file
        self.add_bos_token, self.add_eos_token = add_bos_token, add_eos_token
        self.sp_model = spm.SentencePieceProcessor(model_file=vocab_file)
        super().__init__(unk_token=unk_token, bos_token=bos_token, eos_token=eos_token,
                         pad_token=pad_token, **kwargs)

    @property
    def vocab_size(self):
        return self.sp_model.get_piece_size()

    def get_vocab(self):
        vocab = {self.sp_model.id_to_piece(i): i for i in range(self.vocab_size)}
        vocab.update(self.added_tokens_encoder)
        return vocab

    def _tokenize(self, text):
        return self.sp_model.encode(text, out_type=str)

    def _convert_token_to_id(self, token):
        return self.sp_model.piece_to_id(token)

    def _convert_id_to_token(self, index):
        return self.sp_model.id_to_piece(index)

    def convert_tokens_to_string(self, tokens):
        return self.sp_model.decode(tokens)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        bos = [self.bos_token_id] if self.add_bos_token else []
        eos = [self.eos_token_id] if self.add_eos_token else []
        out = bos + token_ids_0 + eos
        return out if token_ids_1 is None else out + bos + token_ids_1 + eos
'''

# Per LLM family: the extra remote files, and the import / table entry of its config class.
EXTRA = {
    "qwen2": ({}, "", ""),
    "internlm2": ({"configuration_internlm2.py": INTERNLM2,
                   "tokenization_internlm2.py": TOKENIZATION_INTERNLM2},
                  "from .configuration_internlm2 import InternLM2Config\n",
                  '"InternLM2ForCausalLM": InternLM2Config,'),
    "phi3": ({"configuration_phi3.py": PHI3}, "from .configuration_phi3 import Phi3Config\n",
             '"Phi3ForCausalLM": Phi3Config,'),
}


def write_remote_code(folder: Path, family: str) -> list[str]:
    """Write the stand-in remote files for `family`; their names."""
    extra, llm_import, llm_entry = EXTRA[family]
    files = {"configuration_intern_vit.py": INTERN_VIT,
             "configuration_internvl_chat.py": INTERNVL_CHAT.format(llm_import=llm_import,
                                                                  llm_entry=llm_entry),
             **extra}
    for name, text in files.items():
        (folder / name).write_text(text)
    return sorted(files)
