#!/usr/bin/env bash
# The CPU twin of docker/Dockerfile, built and proven on a CPU machine without Docker Hub (issue 12).
#   bash docker/cpu-twin.sh [all|engine|base|build|test|repro|args] (make docker-cpu / docker-cpu-test)
# all (the default): install the engine if missing, write its settings, make the Debian base image,
# build the twin from docker/Dockerfile (FLAVOR=cpu: no flash-attn, requirements/cpu.lock with the
# CPU torch, same user, paths and entrypoint), run `make test` in it as the non-root user with
# --network none, then run the default pipeline in it on a fresh clone and require the committed
# dvc.lock back byte for byte.
#
# Settings (environment):
#   ENGINE=podman|docker    podman (default; installed with apt-get if missing) or a Docker daemon
#   TWIN_STATE=DIR          the engine's config, storage and work copies (/var/tmp/internvl-da-cpu-twin)
#   TWIN_SOURCE=DIR TWIN_REF=REV   the repository and revision tested and reproduced (this checkout,
#                           HEAD); the image is always built from this checkout's HEAD
#   DEBIAN_MIRROR=URL       the Debian archive for the base image (http://deb.debian.org/debian)
#
# Engine settings these VMs need, in TWIN_STATE's own files (never the system's): the runc runtime
# (crun refuses the hybrid cgroup layout), explicit ulimits (nofile <= 20000, nproc 32768: the
# defaults are refused), --format docker (OCI drops the Dockerfile's SHELL). pip in the build sees
# this machine's pip config, CA bundle and wheel folders through read-only mounts
# (docker/pip_mounts.py), never copied into a layer.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ENGINE=${ENGINE:-podman}
TWIN_STATE=${TWIN_STATE:-/var/tmp/internvl-da-cpu-twin}
TWIN_SOURCE=${TWIN_SOURCE:-$repo}
TWIN_REF=${TWIN_REF:-HEAD}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=localhost/internvl-da-base:bookworm
IMAGE=localhost/internvl-da:cpu-twin
UID_IN_IMAGE=1000
NICE=(nice -n 10)   # two cores shared with others: builds and test runs yield

# The twin's build arguments: the Debian bookworm versions of the real file's apt pins, the CPU
# lock and its torch (requirements/cpu.lock), no CUDA.
cpu_torch=$(sed -n 's/^torch==\([0-9.]*\).*/\1/p' "$repo/requirements/cpu.lock")
BUILD_ARGS=(
  --build-arg FLAVOR=cpu
  --build-arg BASE_IMAGE="$BASE_IMAGE"
  --build-arg OS_CODENAME=bookworm
  --build-arg LOCK=requirements/cpu.lock
  --build-arg TORCH_VERSION="$cpu_torch"
  --build-arg CUDA_VERSION=None
  --build-arg FONTS_DEJAVU_VERSION=2.37-6
  --build-arg GIT_VERSION='1:2.39.5-0+deb12u*'
  --build-arg MAKE_VERSION=4.3-4.1
  --build-arg OPENJDK_VERSION='17.0.*'
  --build-arg UID="$UID_IN_IMAGE" --build-arg GID="$UID_IN_IMAGE"
)

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'cpu-twin: %s\n' "$*" >&2; exit 1; }

engine() {
  local need=(mmdebstrap) packages=(mmdebstrap ca-certificates)
  case $ENGINE in
    podman) need+=(podman runc); packages+=(podman buildah runc uidmap netavark) ;;
    docker) docker info >/dev/null 2>&1 || die "ENGINE=docker but no Docker daemon answers" ;;
    *) die "ENGINE=$ENGINE: podman or docker" ;;
  esac
  local tool
  for tool in "${need[@]}"; do
    if ! command -v "$tool" >/dev/null; then
      say "installing ${packages[*]} (apt-get)"
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
      break
    fi
  done
  mkdir -p "$TWIN_STATE"
  [[ $ENGINE == podman ]] || return 0
  cat > "$TWIN_STATE/containers.conf" <<EOF
# written by docker/cpu-twin.sh: this VM refuses crun and the default ulimits
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  cat > "$TWIN_STATE/storage.conf" <<EOF
# written by docker/cpu-twin.sh: images and layers of the twin, apart from the system's
[storage]
driver = "overlay"
graphroot = "$TWIN_STATE/storage"
runroot = "$TWIN_STATE/run"
EOF
  export CONTAINERS_CONF="$TWIN_STATE/containers.conf"
  export CONTAINERS_STORAGE_CONF="$TWIN_STATE/storage.conf"
  export BUILDAH_FORMAT=docker
}

has_image() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

base() {
  if has_image "$BASE_IMAGE"; then return; fi
  say "base image: mmdebstrap bookworm from $DEBIAN_MIRROR"
  local security=${DEBIAN_MIRROR%/debian}/debian-security tar="$TWIN_STATE/base.tar"
  # python3 + venv + python (the CUDA base's conda python is `python`), ca-certificates for pip
  "${NICE[@]}" mmdebstrap --variant=minbase --format=tar \
    --include=python3,python3-venv,python-is-python3,ca-certificates \
    bookworm "$tar" \
    "deb $DEBIAN_MIRROR bookworm main" "deb $DEBIAN_MIRROR bookworm-updates main" \
    "deb $security bookworm-security main"
  "$ENGINE" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' "$tar" "$BASE_IMAGE" >/dev/null
  rm -f "$tar"
}

# A fresh clone of $1 at $2 in $3 (the build context and the run copies: committed files only).
clone() {
  local commit
  commit=$(git -C "$1" rev-parse --verify "$2^{commit}") || die "$1: no commit '$2'"
  rm -rf "$3"
  git clone -q --no-hardlinks --no-checkout "$1" "$3"
  git -C "$3" checkout -q --detach "$commit"
}

build() {
  local context="$TWIN_STATE/context" start=$SECONDS
  clone "$repo" HEAD "$context"
  local opts=()
  if [[ $ENGINE == podman ]]; then
    # shellcheck disable=SC2207  # one `-v SRC:SRC:ro` per line, paths without spaces
    opts=($(python3 "$repo/docker/pip_mounts.py"))
    opts+=(--format docker --network host --ignorefile "$context/docker/Dockerfile.dockerignore")
  fi
  say "building $IMAGE from docker/Dockerfile (FLAVOR=cpu)"
  "${NICE[@]}" "$ENGINE" build -f "$context/docker/Dockerfile" "${BUILD_ARGS[@]}" "${opts[@]}" \
    -t "$IMAGE" "$context"
  say "built in $((SECONDS - start)) s: $("$ENGINE" image inspect "$IMAGE" --format '{{.Size}}') bytes"
}

# Run "$@" in the image on a fresh clone of TWIN_SOURCE at TWIN_REF, as the image's user, offline.
# .venv in the copy points at the image's /opt/venv, so the Makefile's targets use the image's
# environment; `-o .venv/bin/internvl-da` keeps make from rebuilding it.
in_twin() {
  local copy="$TWIN_STATE/work"
  clone "$TWIN_SOURCE" "$TWIN_REF" "$copy"
  ln -s /opt/venv "$copy/.venv"
  mkdir -p "$copy/data" "$TWIN_STATE/hf"
  chown -R "$UID_IN_IMAGE:$UID_IN_IMAGE" "$copy" "$TWIN_STATE/hf"
  "${NICE[@]}" "$ENGINE" run --rm --network none \
    -v "$copy:/workspace" -v "$copy/data:/workspace/data" -v "$TWIN_STATE/hf:/cache/huggingface" \
    "$IMAGE" "$@"
}

run_tests() {
  say "make test in the twin (user $UID_IN_IMAGE, --network none)"
  in_twin make -o .venv/bin/internvl-da test
}

repro() {
  say "dvc repro in the twin on $TWIN_SOURCE@$TWIN_REF; dvc.lock must equal the committed one"
  in_twin make -o .venv/bin/internvl-da repro-check
}

case ${1:-all} in
  args) printf '%s %s\n' "${BUILD_ARGS[@]}" ;;   # the twin's build arguments (tests/docker reads them)
  engine) engine ;;
  base) engine; base ;;
  build) engine; base; build ;;
  test) engine; run_tests ;;
  repro) engine; repro ;;
  all) engine; base; build; run_tests; repro ;;
  *) die "unknown step '$1': all, engine, base, build, test, repro or args" ;;
esac
