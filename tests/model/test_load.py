"""Device placement for inference: one GPU per torchrun rank, else the CPU."""

from __future__ import annotations

import torch

from internvl_da.model.load import inference_device


def test_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert inference_device() == torch.device("cpu")


def test_local_rank_picks_the_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert inference_device() == torch.device("cuda", 3)
    monkeypatch.delenv("LOCAL_RANK")
    assert inference_device() == torch.device("cuda", 0)
