"""Do the CPU code paths change the bits? A few tiny-model training steps under each setting.

Each setting runs in a fresh process (the variables are read when torch loads) and prints the
sha256 of the trained weights. Same hash = same bits. The project pins ATEN_CPU_CAPABILITY=avx2,
MKL_CBWR=AVX2, ONEDNN_MAX_CPU_ISA=AVX2 and one thread (internvl_da.repro.CPU_ENVIRONMENT); this
shows which of those knobs move the result on the machine at hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STEP_SCRIPT = r"""
import hashlib, torch
from internvl_da import repro
from internvl_da.model.tiny import build_tiny_model
repro.configure(0)
model, tok = build_tiny_model("qwen2", seed=0)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
g = torch.Generator().manual_seed(0)
for _ in range(5):
    ids = torch.randint(10, 200, (2, 96), generator=g)
    pixels = torch.randn(2, 3, 64, 64, generator=g)
    ids[:, 5:9] = model.config.image_token_id
    loss = model(input_ids=ids, pixel_values=pixels, labels=ids).loss
    loss.backward(); opt.step(); opt.zero_grad()
h = hashlib.sha256()
for name, t in sorted(model.state_dict().items()):
    h.update(name.encode()); h.update(t.detach().numpy().tobytes())
print(h.hexdigest()[:16])
"""

SETTINGS = {
    "pinned (project)": {},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "MKL_CBWR=COMPAT": {"MKL_CBWR": "COMPAT"},
    "ONEDNN_MAX_CPU_ISA=SSE41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "2 threads": {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
}


def run(overrides: dict[str, str]) -> str:
    from internvl_da.repro import CPU_ENVIRONMENT

    env = {**os.environ, **CPU_ENVIRONMENT, **overrides}
    script = STEP_SCRIPT.replace("repro.configure(0)",
                                 f"repro.configure(0, threads={env['OMP_NUM_THREADS']})")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines
                if line.startswith("model name")), "unknown")
    flags = next((line for line in lines if line.startswith("flags")), "")
    print(f"CPU: {cpu}; avx2: {'avx2' in flags}; avx512f: {'avx512f' in flags}")
    hashes = {name: run(overrides) for name, overrides in SETTINGS.items()}
    pinned = hashes["pinned (project)"]
    for name, digest in hashes.items():
        same = "same" if digest == pinned else "DIFFERENT"
        print(f"{name:32s} {digest}  {same} as pinned")
    moved = [name for name, digest in hashes.items() if digest != pinned]
    print(f"{len(moved)} of {len(hashes) - 1} settings change the bits: {', '.join(moved)}")


if __name__ == "__main__":
    main()
