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
.PHONY: help setup test test-all lint demo experiments readme-check repro-check bench clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# pip's output goes to logs/setup.log; the screen gets a line per 25 packages (issue 11: 6 silent
# minutes before). pip warns once per package about this machine's empty local index folders.
PIP_PROGRESS := awk -v n="$$(grep -c '==' requirements/cpu.lock)" \
	'/^Collecting /{c++; if (c % 25 == 0 || c == n) printf "  %d/%d packages downloaded\n", c, n; fflush()} \
	/^Installing collected/{print "  installing (unpacking wheels: a minute or two)"; fflush()} \
	/^ERROR/{print}'

$(BIN)/internvl-da: pyproject.toml requirements/cpu.lock
	@mkdir -p logs
	@echo "setup 1/3: python venv $(VENV)"
	@$(PY) -m venv $(VENV)
	@echo "setup 2/3: the locked packages (requirements/cpu.lock; about 6 minutes the first time; log: logs/setup.log)"
	@$(BIN)/pip install --disable-pip-version-check --progress-bar off -r requirements/cpu.lock 2>&1 \
		| tee logs/setup.log | $(PIP_PROGRESS) || { echo "setup failed: see logs/setup.log"; exit 1; }
	@echo "setup 3/3: the project (editable)"
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | $(QUIET_PIP)
	@touch $@

setup: $(BIN)/internvl-da ## create .venv from the lock file and install the project
	@$(BIN)/internvl-da --help >/dev/null && echo "setup ok: now run  source $(VENV)/bin/activate"

test: setup ## run the CPU test suite (exit 5, no tests collected, is a failure)
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -m "not slow and not gpu"

test-all: setup ## run every CPU test, slow ones included
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -m "not gpu"

lint: setup ## ruff
	$(BIN)/ruff check src tests bench

DVC := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc

demo: setup ## the whole default pipeline with dvc (sample data, tiny model, CPU) + the report
	@echo "demo: dvc repro (sample data, tiny model, CPU); one line per stage, its output in logs/STAGE.log"
	@$(DVC) repro 2>&1 | $(BIN)/python tools/stage_logs.py logs
	@echo "report: results/tiny/results.md (our rows below; the paper's rows and column notes in the file)"
	@grep -E '^## |^\| model |^\| ours|^\| InternVL3\.5|^\| domain |^\| shapes-' results/tiny/results.md

# `dvc exp show` with the settings people change and one headline metric per benchmark and model;
# `make experiments EXP_SHOW=--csv` for a spreadsheet. Metric columns: results/SIZE/metrics/*.json.
EXP_SHOW ?= --md
EXP_PARAMS := family|family_dir|recipe_profile|size|data|source|seed|freeze_vit|freeze_mlp|freeze_llm|lora_llm|lora_vit
EXP_METRICS := .*(drivelm|medical|remote)\.(accuracy|partial|language/ROUGE_L|overall|avg|acc@0\.5)$$|.*custom\..*(accuracy|acc@0\.5|CIDEr)$$
experiments: setup ## dvc exp show, chosen columns: changed settings, headline metric per benchmark
	@$(DVC) exp show $(EXP_SHOW) --no-pager --drop '.*' --keep 'Experiment|Created' \
		--keep '($(EXP_PARAMS))$$' --keep '$(EXP_METRICS)'

readme-check: setup ## CI: every README command line, cheap form, in a fresh shell after the set-up line
	@$(BIN)/python tools/readme_check.py

repro-check: setup ## CI: rerun the default pipeline from scratch; dvc.lock must not change
	$(DVC) repro --force
	git diff --exit-code dvc.lock && echo "dvc.lock unchanged: every output hash reproduced"

bench: demo ## run the benchmarks on the sample data (each prints ratios measured in one run)
	@for b in bench/*.py; do echo "== $$b"; OMP_NUM_THREADS=1 $(BIN)/python $$b || exit 1; done

clean: ## remove generated data and caches (keeps .venv)
	rm -rf $(SAMPLE) data/prepared models runs results .pytest_cache .ruff_cache

# container targets (docker-build, docker-train, docker-eval, docker-shell, docker-lint)
-include docker/docker.mk
