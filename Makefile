# internvl-da: `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := data/sample

.DEFAULT_GOAL := help
.PHONY: help setup test test-all lint demo bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/internvl-da: pyproject.toml requirements/cpu.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/cpu.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

setup: $(BIN)/internvl-da ## create .venv from the lock file and install the project
	@$(BIN)/internvl-da --help >/dev/null && echo "setup ok: $(BIN)/internvl-da"

test: setup ## run the CPU test suite (exit 5, no tests collected, is a failure)
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -m "not slow and not gpu"

test-all: setup ## run every CPU test, slow ones included
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -m "not gpu"

lint: setup ## ruff
	$(BIN)/ruff check src tests bench

demo: setup ## generate the sample data and print a summary
	$(BIN)/internvl-da prep sample --out $(SAMPLE)

bench: setup ## run the benchmarks (print ratios measured in one run)
	@for b in bench/*.py; do echo "== $$b"; OMP_NUM_THREADS=1 $(BIN)/python $$b || exit 1; done

clean: ## remove generated data and caches (keeps .venv)
	rm -rf $(SAMPLE) data/prepared .pytest_cache .ruff_cache
