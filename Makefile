# internvl-da: `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := data/sample
# pip warns once per package about this machine's empty local index folders; keep the rest
QUIET_PIP := { grep -v 'is ignored: it is neither a file nor a directory' || true; }

.DEFAULT_GOAL := help
.PHONY: help setup test test-all lint demo repro-check bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/internvl-da: pyproject.toml requirements/cpu.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/cpu.lock 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | $(QUIET_PIP)
	@touch $@

setup: $(BIN)/internvl-da ## create .venv from the lock file and install the project
	@$(BIN)/internvl-da --help >/dev/null && echo "setup ok: $(BIN)/internvl-da"

test: setup ## run the CPU test suite (exit 5, no tests collected, is a failure)
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -m "not slow and not gpu"

test-all: setup ## run every CPU test, slow ones included
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -m "not gpu"

lint: setup ## ruff
	$(BIN)/ruff check src tests bench

DVC := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc

demo: setup ## the whole default pipeline with dvc (sample data, tiny model, CPU) + the report
	$(DVC) repro
	@cat results/tiny/results.md

repro-check: setup ## CI: rerun the default pipeline from scratch; dvc.lock must not change
	$(DVC) repro --force
	git diff --exit-code dvc.lock && echo "dvc.lock unchanged: every output hash reproduced"

bench: demo ## run the benchmarks on the sample data (each prints ratios measured in one run)
	@for b in bench/*.py; do echo "== $$b"; OMP_NUM_THREADS=1 $(BIN)/python $$b || exit 1; done

clean: ## remove generated data and caches (keeps .venv)
	rm -rf $(SAMPLE) data/prepared models runs results .pytest_cache .ruff_cache

# container targets (docker-build, docker-train, docker-eval, docker-shell, docker-lint)
-include docker/docker.mk
