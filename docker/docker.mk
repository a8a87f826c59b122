# Container targets, included by the Makefile (`-include docker/docker.mk`). Real runs use the full
# datasets (data=full) in the pinned CUDA image, through docker/compose.yaml:
#   make docker-build
#   make docker-train DOMAIN=remote SIZE=1b [GPUS=4]   # the pipeline's finetune_remote stage
#   make docker-train DOMAIN=remote SIZE=1b FAMILY=internvl3.5   # InternVL3.5-1B, its own tree
#   make docker-eval DOMAIN=drivelm SIZE=1b            # eval_drivelm + eval_mme_realworld
# GPUS: GPUs per node given to the container (a number or `all`). HF_CACHE and DATA_DIR: host
# folders mounted as the image's HF_HOME and data/. Note that `dvc exp run -S` leaves its
# overrides in params.yaml (restore it with `git checkout params.yaml` before a CPU run).
.PHONY: docker-build docker-train docker-eval docker-shell docker-test docker-lint docker-cpu \
	docker-cpu-test

DOCKER_IMAGE ?= internvl-da:torch2.8.0-cu12.8-fa2.8.3
GPUS ?= all
HF_CACHE ?= $(HOME)/.cache/huggingface
DATA_DIR ?= $(CURDIR)/data
DOCKER_DOMAINS := drivelm medical remote
DOCKER_SIZES := tiny 1b 2b 4b
DOCKER_FAMILIES := internvl2 internvl3.5
FAMILY ?= internvl2
# The family's path prefix (params family_dir: DVC cannot derive it from `family`).
FAMILY_DIR = $(if $(filter internvl2,$(FAMILY)),,$(FAMILY)-)
# The evaluation stages of each domain (dvc.yaml).
EVAL_STAGES_drivelm := eval_drivelm eval_mme_realworld
EVAL_STAGES_medical := eval_gmai
EVAL_STAGES_remote := eval_rsvqa eval_dior_rsvg
# One process per GPU of the node: params.yaml's `launcher` prefixes the stage commands.
LAUNCHER := torchrun --no-python --nproc-per-node=$(if $(filter all,$(GPUS)),gpu,$(GPUS))
EXP_RUN = dvc exp run -S family=$(FAMILY) -S "family_dir='$(FAMILY_DIR)'" -S size=$(SIZE) -S data=full -S "launcher='$(LAUNCHER)'"

COMPOSE := DOCKER_IMAGE=$(DOCKER_IMAGE) GPUS=$(GPUS) HF_CACHE=$(HF_CACHE) DATA_DIR=$(DATA_DIR) \
	HOST_UID=$$(id -u) HOST_GID=$$(id -g) docker compose -f docker/compose.yaml
IN_IMAGE := $(COMPOSE) run --rm internvl-da
# `$(call docker_need,VAR,allowed values)`: stop unless VAR is exactly one of the values.
docker_need = $(if $(and $(filter 1,$(words $($(1)))),$(filter $($(1)),$(2))),,$(error \
	$(1)='$($(1))' must be one of: $(2)))

docker-build: ## build the pinned CUDA image (docker/Dockerfile)
	mkdir -p $(HF_CACHE) $(DATA_DIR)
	$(COMPOSE) build

docker-train: ## fine-tune in the image: DOMAIN=drivelm|medical|remote SIZE=1b|2b|4b [FAMILY=internvl3.5] [GPUS=N]
	$(call docker_need,DOMAIN,$(DOCKER_DOMAINS))
	$(call docker_need,FAMILY,$(DOCKER_FAMILIES))
	$(call docker_need,SIZE,$(DOCKER_SIZES))
	mkdir -p $(HF_CACHE) $(DATA_DIR)
	$(IN_IMAGE) $(EXP_RUN) finetune_$(DOMAIN)

docker-eval: ## evaluate in the image: DOMAIN=drivelm|medical|remote SIZE=1b|2b|4b [FAMILY=internvl3.5] [GPUS=N]
	$(call docker_need,DOMAIN,$(DOCKER_DOMAINS))
	$(call docker_need,FAMILY,$(DOCKER_FAMILIES))
	$(call docker_need,SIZE,$(DOCKER_SIZES))
	mkdir -p $(HF_CACHE) $(DATA_DIR)
	$(IN_IMAGE) $(EXP_RUN) $(EVAL_STAGES_$(DOMAIN))

docker-shell: ## an interactive shell in the image, repository mounted at /workspace
	mkdir -p $(HF_CACHE) $(DATA_DIR)
	$(IN_IMAGE) bash

docker-test: ## the test suite inside the image (GPU tests included)
	$(IN_IMAGE) pytest -q -m "not slow"

docker-lint: setup ## hadolint docker/Dockerfile (offline, no Docker engine)
	$(BIN)/hadolint docker/Dockerfile

docker-cpu: ## build the CPU twin of docker/Dockerfile with podman (docker/cpu-twin.sh build)
	bash docker/cpu-twin.sh build

docker-cpu-test: ## CPU twin: build, make test offline as its user, dvc repro == committed dvc.lock
	bash docker/cpu-twin.sh all
