"""The container launchers without Docker or Slurm: docker/docker.mk through `make -n` (commands
printed, not run) and slurm/docker.sbatch with stub `srun` / `scontrol` that log their arguments."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# The brief's table: domain -> the dvc.yaml stages `docker-eval` runs.
EVAL_STAGES = {
    "drivelm": "eval_drivelm eval_mme_realworld",
    "medical": "eval_gmai",
    "remote": "eval_rsvqa eval_dior_rsvg",
}
DEFAULT_FAMILY = "-S family=internvl2 -S \"family_dir=''\""  # the paper's tree
TARGETS = [
    "docker-build",
    "docker-train",
    "docker-eval",
    "docker-shell",
    "docker-test",
    "docker-lint",
    "docker-cpu",
    "docker-cpu-test",
]


def make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def in_image_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "docker compose" in line]
    assert len(lines) == 1, result.stdout
    return lines[0]


@pytest.mark.parametrize(("domain", "size"), [("remote", "1b"), ("medical", "4b")])
def test_train_runs_the_domain_finetune_stage_in_the_image(domain, size):
    line = in_image_line(make("docker-train", f"DOMAIN={domain}", f"SIZE={size}", "GPUS=2"))
    assert "GPUS=2 " in line
    assert "docker compose -f docker/compose.yaml run --rm internvl-da" in line
    assert line.endswith(f"dvc exp run {DEFAULT_FAMILY} -S size={size} -S data=full -S "
                         f"\"launcher='torchrun --no-python --nproc-per-node=2'\" "
                         f"finetune_{domain}")


@pytest.mark.parametrize("domain", sorted(EVAL_STAGES))
def test_eval_runs_the_domain_eval_stages(domain):
    line = in_image_line(make("docker-eval", f"DOMAIN={domain}", "SIZE=2b"))
    assert "GPUS=all " in line
    assert line.endswith(f"dvc exp run {DEFAULT_FAMILY} -S size=2b -S data=full -S "
                         f"\"launcher='torchrun --no-python --nproc-per-node=gpu'\" "
                         f"{EVAL_STAGES[domain]}")


@pytest.mark.parametrize("target", ["docker-train", "docker-eval"])
def test_family_is_passed_with_its_tree(target):
    """Issue 13: `make docker-train DOMAIN=remote SIZE=1b FAMILY=internvl3.5` sets the family
    and its own path prefix (params family_dir), the same words as params.yaml."""
    line = in_image_line(make(target, "DOMAIN=remote", "SIZE=1b", "FAMILY=internvl3.5"))
    assert "dvc exp run -S family=internvl3.5 -S \"family_dir='internvl3.5-'\" -S size=1b " in line
    result = make(target, "DOMAIN=remote", "SIZE=1b", "FAMILY=internvl3")
    assert result.returncode != 0
    assert "FAMILY='internvl3' must be one of: internvl2 internvl3.5" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["DOMAIN=driving", "SIZE=1b"], "DOMAIN='driving' must be one of: drivelm medical remote"),
        (["SIZE=1b"], "DOMAIN='' must be one of"),
        (["DOMAIN=remote medical", "SIZE=1b"], "DOMAIN='remote medical' must be one of"),
        (["DOMAIN=remote", "SIZE=8b"], "SIZE='8b' must be one of: tiny 1b 2b 4b"),
    ],
)
def test_bad_domain_or_size_stops_before_anything_runs(args, message):
    for target in ("docker-train", "docker-eval"):
        result = make(target, *args)
        assert result.returncode != 0 and message in result.stderr
        assert "docker compose" not in result.stdout


def test_shell_lint_and_build_commands():
    assert in_image_line(make("docker-shell")).endswith("run --rm internvl-da bash")
    assert ".venv/bin/hadolint docker/Dockerfile" in make("docker-lint").stdout
    build = in_image_line(make("docker-build"))
    assert build.endswith("docker compose -f docker/compose.yaml build")
    assert make("docker-cpu").stdout.splitlines() == ["bash docker/cpu-twin.sh build"]
    assert make("docker-cpu-test").stdout.splitlines() == ["bash docker/cpu-twin.sh all"]


def test_help_lists_every_container_target():
    help_text = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    listed = re.findall(r"^\s+(docker-[a-z-]+)\s", help_text, flags=re.M)
    assert sorted(listed) == sorted(TARGETS)


def test_eval_stages_exist_in_the_pipeline():
    dvc_yaml = ROOT / "dvc.yaml"
    if not dvc_yaml.exists():
        pytest.skip("dvc.yaml not written yet")
    stages = set(yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"])
    wanted = {s for names in EVAL_STAGES.values() for s in names.split()}
    wanted |= {f"finetune_{domain}" for domain in EVAL_STAGES}
    assert wanted <= stages, wanted - stages


@pytest.fixture
def slurm(tmp_path):
    """Run slurm/docker.sbatch on a fake two-node allocation; returns srun's argument list."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text("#!/usr/bin/env bash\nprintf 'gpu-a01\\ngpu-a02\\n'\n")
    (bin_dir / "srun").write_text('#!/usr/bin/env bash\nprintf "%s\\0" "$@" > "$SRUN_LOG"\n')
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    env = dict(
        os.environ,
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        HOME=str(tmp_path),
        SRUN_LOG=str(tmp_path / "srun.log"),
        SLURM_JOB_NODELIST="gpu-a[01-02]",
        SLURM_JOB_NUM_NODES="2",
        GPUS_PER_NODE="4",
    )

    def run(*args: str) -> list[str]:
        result = subprocess.run(
            ["bash", str(ROOT / "slurm" / "docker.sbatch"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return (tmp_path / "srun.log").read_text().split("\0")[:-1]

    return run


def test_sbatch_runs_the_image_on_every_node_with_rendezvous_on_the_first(slurm, tmp_path):
    argv = slurm("remote", "1b", "--checkpoint", "/ckpt/my model")
    assert f"--container-image={tmp_path}/internvl-da.sqsh" in argv
    assert "--container-workdir=/workspace" in argv
    mounts = next(a for a in argv if a.startswith("--container-mounts="))
    assert f"{tmp_path}:/workspace" in mounts and ":/cache/huggingface" in mounts
    inner = argv[-1]
    assert argv[-2:-1] == ["-c"] and "exec /opt/venv/bin/python -m torch.distributed.run" in inner
    for flag in (
        "--nnodes=2",
        "--node_rank=$SLURM_NODEID",
        "--nproc_per_node=4",
        "--rdzv_endpoint=gpu-a01:29500",
        "--domain remote --size 1b",
        "--output runs/remote-1b",
    ):
        assert flag in inner
    assert inner.rstrip().endswith(r"--set deepspeed_stage=1 --checkpoint /ckpt/my\ model")


def test_sbatch_without_extra_arguments_passes_none(slurm):
    inner = slurm("medical", "2b")[-1]
    assert inner.rstrip().endswith("--set deepspeed_stage=1")


def test_sbatch_is_valid_bash():
    result = subprocess.run(
        ["bash", "-n", str(ROOT / "slurm" / "docker.sbatch")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
