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
.PHONY: help setup test test-all lint demo bench clean

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

PREP := data/prepared
I := $(BIN)/internvl-da

demo: setup ## sample data -> stitching -> conversion -> meta files -> validation (CPU, ~1 min)
	rm -rf $(PREP)  # outputs of an older sample would be stale
	$(I) prep sample --out $(SAMPLE) --force
	$(I) prep stitch-drivelm --data-root $(SAMPLE) --ann-file $(SAMPLE)/drivelm/v1_1_train_nus.json --out $(PREP)/drivelm/stitch --workers 2
	$(I) prep stitch-drivelm --data-root $(SAMPLE) --ann-file $(SAMPLE)/drivelm/v1_1_val_nus.json --out $(PREP)/drivelm/stitch --workers 2
	$(I) prep drivelm --ann-file $(SAMPLE)/drivelm/v1_1_train_nus.json --out $(PREP)/drivelm/drivelm_train.jsonl
	$(I) prep drivelm --ann-file $(SAMPLE)/drivelm/v1_1_val_nus.json --out $(PREP)/drivelm/drivelm_val.jsonl --split val
	$(I) prep rsvqa --raw-dir $(SAMPLE)/rsvqa/LR --variant lr --split train --out $(PREP)/remote/rsvqa_lr_train.jsonl
	$(I) prep rsvqa --raw-dir $(SAMPLE)/rsvqa/LR --variant lr --split test --out $(PREP)/remote/rsvqa_lr_test.json
	$(I) prep rsvqa --raw-dir $(SAMPLE)/rsvqa/HR --variant hr --split train --out $(PREP)/remote/rsvqa_hr_train.jsonl
	$(I) prep rsvqa --raw-dir $(SAMPLE)/rsvqa/HR --variant hr --split test --out $(PREP)/remote/rsvqa_hr_test1.json
	$(I) prep rsvqa --raw-dir $(SAMPLE)/rsvqa/HR --variant hr --split test_phili --out $(PREP)/remote/rsvqa_hr_test2.json
	$(I) prep dior-rsvg --root $(SAMPLE)/dior_rsvg --split train --out $(PREP)/remote/dior_rsvg_train.jsonl
	$(I) prep dior-rsvg --root $(SAMPLE)/dior_rsvg --split test --out $(PREP)/remote/dior_rsvg_test.json
	$(I) prep meta --domain drivelm --out $(PREP)/meta/drivelm.json --general-repeat 0.5 \
	  --general general=$(SAMPLE)/general/general_sft.jsonl,$(SAMPLE)/general/images \
	  --entry drivelm=$(PREP)/drivelm/drivelm_train.jsonl,$(PREP)/drivelm/stitch
	$(I) prep meta --domain remote --out $(PREP)/meta/remote.json --general-repeat 0.5 \
	  --general general=$(SAMPLE)/general/general_sft.jsonl,$(SAMPLE)/general/images \
	  --entry rsvqa_lr=$(PREP)/remote/rsvqa_lr_train.jsonl,$(SAMPLE)/rsvqa/LR/Images_LR \
	  --entry rsvqa_hr=$(PREP)/remote/rsvqa_hr_train.jsonl,$(SAMPLE)/rsvqa/HR/Data \
	  --entry dior_rsvg=$(PREP)/remote/dior_rsvg_train.jsonl,$(SAMPLE)/dior_rsvg \
	  --entry geochat=$(SAMPLE)/geochat/geochat_instruct.jsonl,$(SAMPLE)/geochat/images
	$(I) prep meta --domain medical --out $(PREP)/meta/medical.json --general-repeat 0.5 \
	  --general general=$(SAMPLE)/general/general_sft.jsonl,$(SAMPLE)/general/images \
	  --entry medical=$(SAMPLE)/medical/medical_sft.jsonl,$(SAMPLE)/medical/images
	for d in drivelm remote medical; do $(I) data check $(PREP)/meta/$$d.json || exit 1; done

bench: demo ## run the benchmarks on the sample data (each prints ratios measured in one run)
	@for b in bench/*.py; do echo "== $$b"; OMP_NUM_THREADS=1 $(BIN)/python $$b || exit 1; done

clean: ## remove generated data and caches (keeps .venv)
	rm -rf $(SAMPLE) data/prepared .pytest_cache .ruff_cache

# container targets (docker-build, docker-train, docker-eval, docker-shell, docker-lint)
-include docker/docker.mk
