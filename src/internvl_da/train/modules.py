"""Which parameters train: freezing, the last K vision layers, LoRA (spec training.md §16).

Reference bugs fixed: a frozen vision tower is put in eval mode (the reference left drop-path
active on it); "unfreeze_vit_layers" means the LAST K layers (the reference's positive N kept
all but the first N); LLM LoRA targets are anchored on `language_model` so they never wrap
the vision tower's q/k/v, and include Phi-3's fused modules.
"""

from __future__ import annotations

import warnings

import torch

from internvl_da.model.registry import LLM_LORA_TARGETS, VIT_LORA_TARGETS


def parts(model) -> dict[str, torch.nn.Module]:
    """The three trainable parts of a native InternVL (peft-wrapped or not)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = base.model
    return {"vit": inner.vision_tower, "mlp": inner.multi_modal_projector,
            "llm": torch.nn.ModuleList([inner.language_model, base.lm_head])}


def check_options(cfg) -> None:
    """Conflicting or empty choices are errors before any work."""
    if cfg.unfreeze_vit_layers and not cfg.freeze_vit:
        raise ValueError("unfreeze_vit_layers needs freeze_vit (it picks the trained layers)")
    if cfg.unfreeze_vit_layers < 0:
        raise ValueError("unfreeze_vit_layers counts the last K layers; it must be >= 0")
    nothing = (cfg.freeze_vit and not cfg.unfreeze_vit_layers and not cfg.lora_vit) and \
        cfg.freeze_mlp and (cfg.freeze_llm and not cfg.lora_llm)
    if nothing:
        raise ValueError("every module is frozen and no LoRA is set: nothing would train")
    if cfg.lora_llm and cfg.freeze_llm:
        raise ValueError("lora_llm and freeze_llm together: LoRA already freezes the LLM base")
    if cfg.lora_vit and cfg.freeze_vit:
        raise ValueError("lora_vit and freeze_vit together: LoRA already freezes the ViT base")


def apply_lora(model, cfg):
    """Wrap with peft LoRA (alpha 2r, dropout 0.05) on the requested sub-models."""
    if not (cfg.lora_llm or cfg.lora_vit):
        return model
    from peft import LoraConfig, get_peft_model

    if cfg.lora_llm and cfg.lora_vit and cfg.lora_llm != cfg.lora_vit:
        ranks = {"rank_pattern": {VIT_LORA_TARGETS: cfg.lora_vit}}
    else:
        ranks = {}
    rank = cfg.lora_llm or cfg.lora_vit
    targets = "|".join(f"({t})" for t, on in ((LLM_LORA_TARGETS, cfg.lora_llm),
                                               (VIT_LORA_TARGETS, cfg.lora_vit)) if on)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=targets,
                        task_type="CAUSAL_LM", **ranks)
    with warnings.catch_warnings():  # peft reads transformers' deprecated property
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.* deprecated",
                                category=FutureWarning)
        return get_peft_model(model, config)


def apply_freezing(model, cfg) -> list[torch.nn.Module]:
    """Set requires_grad per part; returns the frozen modules (kept in eval mode by the
    trainer). LoRA-wrapped parts keep only their adapters trainable."""
    p = parts(model)
    frozen = []
    plan = {"vit": cfg.freeze_vit or bool(cfg.lora_vit), "mlp": cfg.freeze_mlp,
            "llm": cfg.freeze_llm or bool(cfg.lora_llm)}
    for name, module in p.items():
        for pname, param in module.named_parameters():
            param.requires_grad = "lora_" in pname if plan[name] else True
        if plan[name] and not ((name == "vit" and cfg.lora_vit) or
                               (name == "llm" and cfg.lora_llm)):
            frozen.append(module)
    if cfg.freeze_vit and cfg.unfreeze_vit_layers:
        layers = p["vit"].encoder.layer
        for layer in layers[len(layers) - cfg.unfreeze_vit_layers:]:
            layer.requires_grad_(True)
        frozen.remove(p["vit"])
        frozen += list(layers[: len(layers) - cfg.unfreeze_vit_layers])
        frozen.append(p["vit"].embeddings)
    return frozen


def set_frozen_eval(frozen: list[torch.nn.Module]) -> None:
    """Frozen modules run in eval mode: no dropout or drop-path on them."""
    for module in frozen:
        module.eval()
