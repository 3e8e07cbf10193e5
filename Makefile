# The one entry point. `make help` lists the targets.
# Every target that needs Python creates the virtualenv from pinned requirements first,
# so a fresh clone needs nothing installed by hand.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON       ?= python3
VENV         := .venv
PY           := $(VENV)/bin/python
STAMP        := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
ENV          ?= dev
REGION       ?= eu-west-1
SERVICE      ?=
LOCAL_ARGS   ?=
SOAK_ARGS    ?=
# Lambda runs python3.12 and python3.13: the tests also run under each one found here.
LAMBDA_PYTHONS ?= 3.12 3.13
# One Terraform root, applied per env/region with infra/envs/<env>/<region>.tfvars and .s3.tfbackend.
TF           := scripts/terraform
TF_ROOT      := infra/root
TF_VARS      := ../envs/$(ENV)/$(REGION).tfvars
TF_BACKEND   := ../envs/$(ENV)/$(REGION).s3.tfbackend
TF_PLAN      := tfplan-$(ENV)-$(REGION)
TF_STATE_BUCKET ?=
ENDPOINT     ?=
# Each env/region keeps its own .terraform (backend config), so switching never re-initialises another.
TF_ENV       := TF_DATA_DIR=$(CURDIR)/$(TF_ROOT)/.terraform/$(ENV)-$(REGION) $(TF)
export PYTHONPATH := $(CURDIR):$(CURDIR)/scripts
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup test test-fast test-lambda-pythons lint fmt package local demo plan apply apply-local infra-check tf-lock \
        catalog lock bench-package bench-coldstart bench-local bench-soak bench-thumbnails bench-eventstore clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements/dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	@touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	@touch $@

setup: $(STAMP) $(CHECKOV_VENV)/.installed ## Create the virtualenvs from pinned requirements
	@echo "virtualenvs ready: $(VENV), $(CHECKOV_VENV)"

test: $(STAMP) $(CHECKOV_VENV)/.installed ## Run every check: lint, unit, contract, packaging, infra, end to end, Lambda Pythons
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m devtools.catalog --check
	CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(PY) -m pytest -n 2 --dist loadgroup
	$(MAKE) --no-print-directory test-lambda-pythons

test-lambda-pythons: ## Library, service and contract tests under python3.12 and 3.13 (those found here)
	@for v in $(LAMBDA_PYTHONS); do \
	  py=$$(scripts/find-python $$v) || { echo "python$$v not found here: its tests are skipped"; continue; }; \
	  venv=.venv-py$$v; \
	  if [ ! -f $$venv/.installed ] || [ requirements/dev.txt -nt $$venv/.installed ]; then \
	    $$py -m venv $$venv && $$venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt \
	      && touch $$venv/.installed || exit 1; \
	  fi; \
	  echo "== python$$v ($$py)"; \
	  $$venv/bin/python -m pytest -q -n 2 -m "not e2e and not packaging and not slow" \
	    shared/tests services tests/contracts tests/manifests || exit 1; \
	done

test-fast: $(STAMP) ## Unit and contract tests only (no packaging, no end to end)
	$(PY) -m pytest -n 2 -m "not e2e and not packaging and not slow"

lint: $(STAMP) ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: $(STAMP) ## Format and auto-fix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

catalog: $(STAMP) ## Regenerate CODEOWNERS, event JSON Schemas, catalog and the README service table
	$(PY) -m devtools.catalog --write

package: $(STAMP) ## Build dist/<service>.zip for every service (or SERVICE=name)
	$(PY) -m devtools.package $(if $(SERVICE),--service $(SERVICE))

bench-package: $(STAMP) ## Per-service build time, zip size, unzipped size
	$(PY) -m devtools.bench_package

bench-coldstart: $(STAMP) ## Every function's init and first call from its zip on python3.12/3.13 vs import boto3; ratio last
	$(PY) -m devtools.bench_coldstart $(BENCH_ARGS)

local: $(STAMP) ## Run the whole system locally (moto + functions + HTTP gateway), foreground; LOCAL_ARGS=...
	$(PY) -m devtools.local up $(LOCAL_ARGS)

demo: $(STAMP) ## Start the local runtime, drive a scenario through every service, stop
	$(PY) -m devtools.local demo

plan: package ## terraform plan for ENV= REGION= (TF_STATE_BUCKET= the account's state bucket)
	@test -f $(TF_ROOT)/$(TF_VARS) || { echo "no infra/envs/$(ENV)/$(REGION).tfvars: ENV/REGION must be one of: $$(cd infra/envs && ls */*.tfvars | sed 's/.tfvars//')"; exit 2; }
	$(TF_ENV) -chdir=$(TF_ROOT) init -input=false -reconfigure -backend-config=$(TF_BACKEND) $(if $(TF_STATE_BUCKET),-backend-config=bucket=$(TF_STATE_BUCKET))
	$(TF_ENV) -chdir=$(TF_ROOT) plan -input=false -var-file=$(TF_VARS) -out=$(TF_PLAN)

apply: ## terraform apply for ENV= REGION= (the plan `make plan` saved)
	@test -f $(TF_ROOT)/$(TF_PLAN) || { echo "no saved plan for $(ENV)/$(REGION): run make plan ENV=$(ENV) REGION=$(REGION) first"; exit 2; }
	$(TF_ENV) -chdir=$(TF_ROOT) apply -input=false $(TF_PLAN)
	rm -f $(TF_ROOT)/$(TF_PLAN)

apply-local: $(STAMP) package ## Apply ENV= REGION= to the local emulator, re-plan (must be empty), destroy (must leave nothing); ENDPOINT= a running one
	$(PY) -m devtools.tf cycle --env $(ENV) --region $(REGION) --dist dist $(if $(ENDPOINT),--endpoint $(ENDPOINT))

infra-check: $(STAMP) ## Terraform only: fmt, validate, terraform test, plan of every env/region (what make test runs)
	$(PY) -m pytest -n 2 --dist loadgroup tests/infra tests/manifests

tf-lock: ## Re-make the provider lock files (every module and the root) from the mirror or registry
	@for d in infra/root infra/modules/*; do \
	  echo "== $$d"; rm -f $$d/.terraform.lock.hcl; \
	  mirror=$$($(TF) --which | sed -n 's/^mirror: *//p'); \
	  if [ -d "$$mirror" ]; then $(TF) -chdir=$$d providers lock -fs-mirror=$$mirror -platform=linux_amd64; \
	  else $(TF) -chdir=$$d providers lock -platform=linux_amd64 -platform=linux_arm64 -platform=darwin_arm64 -platform=darwin_amd64; fi; \
	done

lock: ## Re-resolve requirements/*.in into pinned requirements/*.txt
	rm -rf /tmp/eda-lock && $(PYTHON) -m venv /tmp/eda-lock && /tmp/eda-lock/bin/pip install --quiet -r requirements/dev.in
	{ echo "# Generated by \`make lock\` from requirements/dev.in: every package pinned (the packager also uses it as constraints)."; \
	  /tmp/eda-lock/bin/pip freeze --all | grep -vE '^(pip|setuptools|wheel)=='; } > requirements/dev.txt
	rm -rf /tmp/eda-lock-ck && $(PYTHON) -m venv /tmp/eda-lock-ck && /tmp/eda-lock-ck/bin/pip install --quiet -r requirements/checkov.in
	{ echo "# Generated by \`make lock\` from requirements/checkov.in."; \
	  /tmp/eda-lock-ck/bin/pip freeze --all | grep -vE '^(pip|setuptools|wheel)=='; } > requirements/checkov.txt
	@echo "shared/ and services/*/requirements.txt pin runtime packages too; make package uses dev.txt as constraints, so a mismatch fails the build"

bench-local: $(STAMP) ## Events/s through EventBridge -> SQS -> function vs a bare boto3 loop
	$(PY) -m devtools.local bench

bench-soak: $(STAMP) ## Orders at a fixed rate on a fresh runtime: RSS, threads, fds, POST p95, lag, DLQ, restart; SOAK_ARGS="--rate 2 --minutes 20"
	$(PY) -m devtools.local soak $(SOAK_ARGS)

bench-thumbnails: $(STAMP) ## Thumbnail timings vs a full decode and a naive resize
	$(PY) services/thumbnails/bench.py

bench-eventstore: $(STAMP) ## Fold 10,000 events; DynamoDB calls per load with and without snapshot
	$(PY) -m devtools.bench_eventstore

clean: ## Remove build output and virtualenvs
	rm -rf dist build $(VENV) $(CHECKOV_VENV) .venv-py* .ruff_cache
