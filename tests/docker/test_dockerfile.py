"""docker/Dockerfile, its lock and compose file, checked statically (no Docker engine): the base
image is pinned by digest, the flash-attn wheel matches the image's torch x CUDA x Python x C++
ABI, every installed package is pinned exactly, hadolint is clean, compose reserves GPUs and
shares the host's IPC namespace."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "docker" / "requirements-cuda.lock"
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
BASE = re.compile(
    r"^pytorch/pytorch:(?P<torch>\d+\.\d+\.\d+)-cuda(?P<cuda>\d+\.\d+)-cudnn\d+-devel"
    r"@sha256:[0-9a-f]{64}$"
)
# flash-attention's release asset names, e.g. flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp311-...
WHEEL = re.compile(
    r"^flash_attn-(?P<version>\d+\.\d+\.\d+(?:\.post\d+)?)\+cu(?P<cuda>\d+)torch(?P<torch>\d+\.\d+)"
    r"cxx11abi(?P<abi>TRUE|FALSE)-cp(?P<py>\d+)-cp(?P=py)-linux_x86_64\.whl$"
)
RELEASES = "https://github.com/Dao-AILab/flash-attention/releases/download"


def expand(text: str, args: dict[str, str]) -> str:
    """Substitute ${NAME} with the ARG defaults."""
    return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), text)


def wheel_mismatches(wheel: str, stack: dict[str, str]) -> list[str]:
    """Where a flash-attn wheel name disagrees with the torch / CUDA / Python / ABI of `stack`."""
    match = WHEEL.match(wheel)
    if match is None:
        return [f"{wheel!r} is not a flash-attn release wheel name"]
    want = {
        "version": stack["FLASH_ATTN_VERSION"],
        "cuda": stack["CUDA_VERSION"].split(".")[0],
        "torch": ".".join(stack["TORCH_VERSION"].split(".")[:2]),
        "abi": stack["TORCH_CXX11_ABI"],
        "py": stack["PYTHON_VERSION"].replace(".", ""),
    }
    return [f"{k}: wheel {match.group(k)}, image {v}" for k, v in want.items() if match[k] != v]


def shell_commands(run: str) -> list[list[str]]:
    """The simple commands of a RUN line, split at `&&`, `||`, `;`, `|` outside quotes."""
    lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "|"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [words for words in commands if words]


def pip_install_problems(run: str) -> list[str]:
    """`pip install` commands of one RUN that could install something the lock does not pin."""
    problems = []
    for words in shell_commands(run):
        if "pip" not in words or "install" not in words[words.index("pip") :]:
            continue
        command = " ".join(words)
        rest = words[words.index("install", words.index("pip")) + 1 :]
        if "--no-deps" not in rest:
            problems.append(f"without --no-deps: {command}")
        for i, word in enumerate(rest):
            after_option = i > 0 and rest[i - 1] in ("-r", "--requirement", "-e", "--editable")
            if word.startswith("-") or after_option or word.endswith(".whl") or "==" in word:
                continue
            problems.append(f"unpinned {word!r}: {command}")
    return problems


@pytest.fixture(scope="module")
def stack(dockerfile):
    return dockerfile.args()


@pytest.fixture(scope="module")
def lock(check_env):
    return check_env.read_lock(LOCK)


def test_every_base_image_is_pinned_by_digest(dockerfile):
    froms = dockerfile.all("FROM")
    assert len(froms) == 1
    assert BASE.match(froms[0]), froms[0]


def test_base_tag_is_the_declared_stack(dockerfile, stack):
    base = BASE.match(dockerfile.all("FROM")[0])
    assert (base["torch"], base["cuda"]) == (stack["TORCH_VERSION"], stack["CUDA_VERSION"])


def test_flash_attn_wheel_matches_the_image(stack):
    assert wheel_mismatches(stack["FLASH_ATTN_WHEEL"], stack) == []


@pytest.mark.parametrize(
    ("wheel", "field"),
    [
        ("flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl", "py"),
        ("flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp311-cp311-linux_x86_64.whl", "torch"),
        ("flash_attn-2.8.3+cu12torch2.8cxx11abiFALSE-cp311-cp311-linux_x86_64.whl", "abi"),
        ("flash_attn-2.8.3+cu13torch2.8cxx11abiTRUE-cp311-cp311-linux_x86_64.whl", "cuda"),
        ("flash_attn-2.8.2+cu12torch2.8cxx11abiTRUE-cp311-cp311-linux_x86_64.whl", "version"),
    ],
)
def test_wheel_check_catches_each_mismatch(stack, wheel, field):
    problems = wheel_mismatches(wheel, stack)
    assert len(problems) == 1 and problems[0].startswith(field + ":")


def test_wheel_check_rejects_a_name_that_is_not_a_release_asset(stack):
    assert wheel_mismatches("flash_attn-2.8.3-cp311-cp311-linux_x86_64.whl", stack)


def test_wheel_comes_from_the_flash_attention_release(dockerfile, stack):
    urls = [add.split()[0] for add in dockerfile.all("ADD")]
    assert [expand(url, stack) for url in urls] == [
        f"{RELEASES}/v{stack['FLASH_ATTN_VERSION']}/{stack['FLASH_ATTN_WHEEL']}"
    ]


def test_image_python_satisfies_pyproject(stack):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert SpecifierSet(project["requires-python"]).contains(stack["PYTHON_VERSION"] + ".0")


def test_lock_torch_is_the_image_torch(lock, stack):
    assert lock["torch"] == stack["TORCH_VERSION"]


def test_lock_holds_pyproject_dependencies_at_their_pins(lock):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for text in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(text)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in lock, f"{name} missing from {LOCK.name}"
        if name != "torch":
            assert req.specifier.contains(lock[name]), (text, lock[name])


def test_lock_agrees_with_the_cpu_lock(check_env, lock):
    cpu = check_env.read_lock(ROOT / "requirements" / "cpu.lock")
    differ = {n: (v, lock[n]) for n, v in cpu.items() if n in lock and lock[n] != v}
    assert set(differ) == {"torch"}, differ
    assert set(cpu) - set(lock) == set()
    extra = set(lock) - set(cpu)  # torch's CUDA runtime, which the base image already carries
    assert extra and all(n.startswith("nvidia-") or n in ("triton", "setuptools") for n in extra)


@pytest.mark.parametrize(
    "line",
    [
        "numpy>=2",
        "torch",
        "-e .",
        "git+https://github.com/x/y",
        "numpy==2.4.6 ; python_version<'3'",
    ],
)
def test_lock_reader_rejects_anything_but_exact_pins(check_env, tmp_path, line):
    path = tmp_path / "bad.lock"
    path.write_text(f"# header\npillow==13.0.0\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"bad\.lock:3: .*{re.escape(line)}"):
        check_env.read_lock(path)


def test_every_pip_install_in_the_image_is_pinned(dockerfile, stack):
    runs = [expand(run, stack) for run in dockerfile.all("RUN")]
    assert sum("pip install" in run for run in runs) == 2
    assert [p for run in runs for p in pip_install_problems(run)] == []


@pytest.mark.parametrize(
    "run",
    [
        "pip install --no-cache-dir --no-deps requests",
        "python -m pip install --no-cache-dir -r /opt/x.lock",
        "apt-get update && pip install --no-deps numpy>=2",
    ],
)
def test_pip_check_catches_unpinned_installs(run):
    assert pip_install_problems(run)


def test_shell_split_keeps_quoted_operators():
    commands = shell_commands('a "x; y" && b || c; d | e')
    assert commands == [["a", "x; y"], ["b"], ["c"], ["d"], ["e"]]


def test_lock_installed_into_the_image_is_the_copied_lock(dockerfile):
    copies = [c.split() for c in dockerfile.all("COPY")]
    assert ["docker/requirements-cuda.lock", "/opt/internvl-da/requirements-cuda.lock"] in copies
    assert any("-r /opt/internvl-da/requirements-cuda.lock" in run for run in dockerfile.all("RUN"))


def test_apt_packages_are_pinned_and_include_java_and_dejavu(dockerfile):
    runs = [run for run in dockerfile.all("RUN") if "apt-get install" in run]
    assert len(runs) == 1 and "--no-install-recommends" in runs[0]
    words = runs[0].split("apt-get install", 1)[1].split("&&")[0].split()
    packages = [w for w in words if not w.startswith("-")]
    assert all("=" in p for p in packages), packages
    names = {p.split("=")[0] for p in packages}
    assert "fonts-dejavu-core" in names and "git" in names
    assert any(re.fullmatch(r"openjdk-\d+-jre-headless", n) for n in names)


def test_runtime_user_workdir_and_volumes(dockerfile, stack):
    user = expand(dockerfile.all("USER")[-1], stack)
    assert user == "1000:1000", user
    assert dockerfile.all("WORKDIR")[-1] == "/workspace"
    env = " ".join(dockerfile.all("ENV"))
    assert "HF_HOME=/cache/huggingface" in env
    assert dockerfile.all("VOLUME") == ['["/cache/huggingface", "/workspace/data"]']


def test_hadolint_is_clean():
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(ROOT / "docker" / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_reports_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu\nRUN apt-get install -y curl && pip install requests\n")
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert {"DL3006", "DL3008", "DL3013"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_parser_joins_continuations_and_drops_inner_comments(parse):
    parsed = parse("# c\nFROM a:b@x\nRUN one \\\n  # inner\n  two\nUSER 1:1\n")
    assert parsed.instructions == [("FROM", "a:b@x"), ("RUN", "one two"), ("USER", "1:1")]


@pytest.fixture(scope="module")
def service():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8"))
    return compose["services"]["internvl-da"]


def test_compose_reserves_gpus_and_shares_host_ipc(service):
    assert service["ipc"] == "host"
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "${GPUS:-all}", "capabilities": ["gpu"]}]


def test_compose_builds_this_dockerfile_and_mounts_repo_cache_and_data(service):
    assert service["build"]["context"] == ".." and service["build"]["dockerfile"] == (
        "docker/Dockerfile"
    )
    mounts = dict(reversed(v.rsplit(":", 1)) for v in service["volumes"])
    assert mounts["/workspace"] == ".."
    assert set(mounts) == {"/workspace", "/cache/huggingface", "/workspace/data"}
    assert service["environment"]["HF_HOME"] == "/cache/huggingface"
    assert service["working_dir"] == "/workspace"


def test_build_context_sends_every_copied_path(dockerfile):
    ignore = (ROOT / "docker" / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    sources = [src for copy in dockerfile.all("COPY") for src in copy.split()[:-1]]
    assert sources and all(Path(src).as_posix().rstrip("/") in allowed for src in sources), sources


def test_build_time_checks_cover_the_whole_stack(dockerfile, stack, check_env):
    calls = [
        shlex.split(expand(run, stack).split("check_env.py", 1)[1].split("&&")[0])
        for run in dockerfile.all("RUN")
        if "check_env.py" in run
    ]
    assert len(calls) == 2
    first, last = (check_env.parse_args(argv) for argv in calls)
    keys = ("PYTHON_VERSION", "TORCH_VERSION", "CUDA_VERSION", "TORCH_CXX11_ABI")
    expected = tuple(stack[key] for key in keys)
    for args in (first, last):
        assert (args.python, args.torch, args.cuda, args.cxx11_abi) == expected
    assert str(last.lock) == "/opt/internvl-da/requirements-cuda.lock"
    assert last.flash_attn == stack["FLASH_ATTN_VERSION"]
    assert last.absent == ["torchvision", "torchaudio"]
