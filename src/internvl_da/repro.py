"""The determinism envelope: seeds, thread counts and deterministic switches, in one place.

Nothing here runs at import. The CLI calls :func:`configure` once; tests call it from conftest.
Results on CPU depend on the torch thread count (stack-notes §4), so the count is part of the
experiment identity and is always set explicitly.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

DEFAULT_SEED = 42
DEFAULT_THREADS = 1

# CPU code paths pinned so that x86 machines with AVX2 or AVX-512 compute the same bits: torch's
# own kernels (ATen dispatch), oneMKL's BLAS (conditional numerical reproducibility) and oneDNN.
# One intra-op thread: results depend on the thread count (stack-notes §4). Read at library
# load, so they must be in the environment before torch is imported (the CLI's first step).
CPU_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MKL_CBWR": "AVX2",
                   "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def set_cpu_environment() -> dict[str, str]:
    """Put CPU_ENVIRONMENT into os.environ where the user has not set a value; returns the
    values in effect. Without effect once torch is imported."""
    for key, value in CPU_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in CPU_ENVIRONMENT}


@dataclass(frozen=True)
class Envelope:
    """What was set; written into run manifests."""

    seed: int
    threads: int
    deterministic: bool


def configure(
    seed: int = DEFAULT_SEED, threads: int = DEFAULT_THREADS, deterministic: bool = True
) -> Envelope:
    """Seed python/numpy/torch, pin the thread count and switch on deterministic algorithms."""
    import numpy as np
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # must precede the CUDA context
    os.environ.setdefault("FLASH_ATTENTION_DETERMINISTIC", "1" if deterministic else "0")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic, warn_only=False)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = deterministic
    return Envelope(seed=seed, threads=threads, deterministic=deterministic)


def worker_seed(base_seed: int, rank: int, worker_id: int, num_workers: int) -> int:
    """Seed of one DataLoader worker: a pure function of (seed, rank, worker)."""
    return base_seed + rank * max(num_workers, 1) + worker_id
