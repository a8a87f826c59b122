"""docker/Dockerfile, its lock and compose file, checked statically (no Docker engine): the base
image is pinned by digest, the flash-attn wheel matches the image's torch x CUDA x Python x C++
ABI, every installed package is pinned exactly, hadolint is clean, compose reserves GPUs and
shares the host's IPC namespace."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "docker" / "requirements-cuda.lock"
# the environment running the tests: .venv here, /opt/venv in the CPU twin
HADOLINT = Path(sys.executable).parent / "hadolint"
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


def test_every_base_image_is_pinned_by_digest(dockerfile, stack):
    """The image's base is ARG BASE_IMAGE, whose default is pinned by digest; the other stages
    are the empty wheel folders (scratch) and the FLAVOR alias that picks one of them."""
    assert BASE.match(stack["BASE_IMAGE"]), stack["BASE_IMAGE"]
    assert dockerfile.all("FROM") == [
        "scratch AS wheels-cuda",
        "scratch AS wheels-cpu",
        "wheels-${FLAVOR} AS wheels",
        "${BASE_IMAGE}",
    ]
    assert stack["FLAVOR"] == "cuda"


def test_base_tag_is_the_declared_stack(stack):
    base = BASE.match(stack["BASE_IMAGE"])
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


def test_lock_installed_into_the_image_is_the_copied_lock(dockerfile, stack):
    copies = [expand(c, stack).split() for c in dockerfile.all("COPY")]
    assert ["docker/requirements-cuda.lock", "/opt/internvl-da/requirements.lock"] in copies
    assert any("-r /opt/internvl-da/requirements.lock" in run for run in dockerfile.all("RUN"))


def apt_pins(dockerfile, args: dict[str, str]) -> dict[str, str]:
    """Package -> version of the one `apt-get install`, its ARGs expanded with `args`."""
    runs = [run for run in dockerfile.all("RUN") if "apt-get install" in run]
    assert len(runs) == 1 and "--no-install-recommends" in runs[0]
    words = runs[0].split("apt-get install", 1)[1].split("&&")[0].split()
    packages = [expand(w, args).replace('"', "") for w in words if not w.startswith("-")]
    assert all("=" in p for p in packages), packages
    return dict(p.split("=", 1) for p in packages)


def test_apt_packages_are_pinned_and_include_java_dejavu_and_make(dockerfile, stack):
    pins = apt_pins(dockerfile, stack)
    assert {"fonts-dejavu-core", "git", "make"} <= set(pins)
    assert any(re.fullmatch(r"openjdk-\d+-jre-headless", n) for n in pins)
    assert all(version and "$" not in version for version in pins.values()), pins


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


def twin_args() -> dict[str, str]:
    """The CPU twin's --build-arg values, as docker/cpu-twin.sh passes them (its `args` step)."""
    out = subprocess.run(
        ["bash", str(ROOT / "docker" / "cpu-twin.sh"), "args"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    pairs = [line.removeprefix("--build-arg ").split("=", 1) for line in out.splitlines()]
    return dict(pairs)


def test_build_context_sends_every_copied_path(dockerfile, stack):
    ignore = (ROOT / "docker" / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copies = [c for c in dockerfile.all("COPY") if not c.startswith("--from=")]
    for args in (stack, {**stack, **twin_args()}):
        sources = [expand(src, args) for copy in copies for src in copy.split()[:-1]]
        assert sources and all(Path(s).as_posix().rstrip("/") in allowed for s in sources), sources


def check_env_calls(dockerfile, args: dict[str, str], check_env) -> list:
    """Every check_env.py invocation of the RUN lines, parsed by check_env's own parser."""
    calls = []
    for run in dockerfile.all("RUN"):
        for words in shell_commands(expand(run, args)):
            if "/opt/internvl-da/check_env.py" in words:
                calls.append(words[words.index("/opt/internvl-da/check_env.py") + 1 :])
    return [check_env.parse_args(argv) for argv in calls]


def test_build_time_checks_cover_the_whole_stack(dockerfile, stack, check_env):
    calls = check_env_calls(dockerfile, stack, check_env)
    keys = ("PYTHON_VERSION", "TORCH_VERSION", "CUDA_VERSION", "TORCH_CXX11_ABI")
    expected = tuple(stack[key] for key in keys)
    full = [c for c in calls if (c.python, c.torch, c.cuda, c.cxx11_abi) == expected]
    assert len(full) == 2  # the base before anything is installed, the venv after
    first, last = full
    assert first.lock is None and not first.absent
    assert str(last.lock) == "/opt/internvl-da/requirements.lock"
    assert last.absent == ["torchvision", "torchaudio"]
    assert [c.flash_attn for c in calls if c.flash_attn] == [stack["FLASH_ATTN_VERSION"]]


def test_cpu_twin_arguments_are_the_files_args_and_the_cpu_stack(dockerfile, stack, check_env):
    """docker/cpu-twin.sh only sets ARGs this file declares; FLAVOR=cpu names an existing wheels
    stage; the twin installs requirements/cpu.lock with its own torch, no CUDA; the apt pins
    name the same packages; the user is the real image's."""
    twin = twin_args()
    assert set(twin) <= set(stack), set(twin) - set(stack)
    assert f"scratch AS wheels-{twin['FLAVOR']}" in dockerfile.all("FROM")
    assert twin["FLAVOR"] == "cpu" and twin["OS_CODENAME"] == "bookworm"
    assert twin["BASE_IMAGE"].startswith("localhost/")
    cpu = check_env.read_lock(ROOT / twin["LOCK"])
    assert twin["LOCK"] == "requirements/cpu.lock"
    assert cpu["torch"].split("+")[0] == twin["TORCH_VERSION"] and twin["CUDA_VERSION"] == "None"
    merged = {**stack, **twin}
    assert set(apt_pins(dockerfile, merged)) == set(apt_pins(dockerfile, stack))
    assert (twin["UID"], twin["GID"]) == (stack["UID"], stack["GID"])
    # the twin's checks: Python on the bare base, then the whole CPU stack on the venv
    calls = check_env_calls(dockerfile, merged, check_env)
    last = [c for c in calls if c.lock is not None]
    assert len(last) == 1 and (last[0].torch, last[0].cuda) == (twin["TORCH_VERSION"], "None")


def test_cpu_lock_meets_every_requirement_of_its_pins(check_env):
    """Issue 12 regression: requirements/cpu.lock lacked setuptools, which torch requires
    (>=77.0.3); the image installs the lock with --no-deps, so nothing else brings it in. Every
    requirement of every pin (this interpreter's markers) must be pinned in the lock and met."""
    import importlib.metadata as md

    pins = check_env.read_lock(ROOT / "requirements" / "cpu.lock")
    pinned = lambda name: pins.get(check_env.normalize(name))  # noqa: E731
    assert check_env.unmet_requirements(sorted(pins), md.requires, pinned) == []
    assert "setuptools" in pins
