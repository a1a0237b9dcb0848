# kmslab: `make lab` runs the guide's chapters against a local cloud, `make test` runs every test. Both install what they need first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export NO_MKDOCS_2_WARNING := 1

.PHONY: install lab test lint format typecheck synth check-aws bench soak parity clean guide guide-build chromium

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo "make: Python 3.11+ is needed as python3; install it and run make again" >&2; exit 2; }
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: Node.js 18+ with npm is needed for the pinned CDK CLI; install it (Debian: apt-get install nodejs npm) and run make again" >&2; exit 2; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## lab: the guide's chapters 2-12 against a local cloud with the kit deployed (LAB_ARGS="--chapter 5 --keep")
LAB_ARGS ?=
lab: install
	$(VENV)/bin/kmslab lab run $(LAB_ARGS)

## test: every test, offline, in parallel (the guide's browser check needs Debian's chromium)
test: install chromium
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

## synth: synthesize every stack into cdk.out/ (offline, no credentials), then print the cdk-nag summary
synth: install
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx cdk synth --quiet; status=$$?; \
	$(PY) -m stacks.nag_summary cdk.out/validation-report.json; exit $$status

## check-aws: preflight before a deploy: every SSM parameter and bootstrap version the templates need
check-aws: synth
	$(VENV)/bin/kmslab doctor --aws

## guide: serve the workshop site on http://127.0.0.1:8000 (rebuilds on change)
guide: install synth
	$(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8000

## guide-build: build the workshop site into site/ with --strict
guide-build: install synth
	$(VENV)/bin/mkdocs build --strict

## chromium: Debian's headless Chromium, for the guide's browser check (installed when missing)
chromium:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 \
		&& { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| { echo "make: Debian's chromium is needed for the guide's browser check (apt-get install chromium)" >&2; exit 2; }; }

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## soak: kill -9 the local KMS under write load SOAK_KILLS times (default 50, a few minutes); nothing acknowledged may be lost
SOAK_KILLS ?= 50
soak: install
	$(PY) tests/soak/soak.py --kills $(SOAK_KILLS)

## parity: regenerate the local KMS parity scorecard (workshop/parity.md) from botocore's KMS model
parity: install
	$(PY) -m tests.kms.parity --write workshop/parity.md

clean:
	rm -rf $(VENV) node_modules cdk.out site workshop/_screenshots .pytest_cache .mypy_cache .ruff_cache
