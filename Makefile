# kmslab: `make lab` runs the offline lab, `make test` runs every test. Both install what they need first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install lab test lint format typecheck synth bench clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## lab: run the offline lab against the local KMS (no AWS account needed)
lab: install
	$(VENV)/bin/kmslab lab run

## test: every test, offline, in parallel
test: install
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

## fuzz: the endpoint fuzz over botocore's KMS model with a long budget (KMSLAB_FUZZ_EXAMPLES per operation and kind)
KMSLAB_FUZZ_EXAMPLES ?= 150
.PHONY: fuzz
fuzz: install
	KMSLAB_FUZZ_EXAMPLES=$(KMSLAB_FUZZ_EXAMPLES) $(PY) -m pytest -p no:xdist -q tests/kms/test_endpoint_fuzz.py $(PYTEST_ARGS)

## lint: ruff (lint and format check) and mypy on kmslab/ and lambda/
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --explicit-package-bases lambda

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## synth: synthesize every stack into cdk.out/ (offline, no credentials)
synth: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx cdk synth --quiet

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
