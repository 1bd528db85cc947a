# cm-pipelines: `make demo` runs the platform end to end on the embedded default,
# `make test` runs the test suite. Both create the virtual environment on first use.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export UV_COMPILE_BYTECODE := 1
export PYTHONWARNINGS := ignore::DeprecationWarning

.PHONY: setup demo test test-fast lint typecheck validate check shape bench ui workers clean

$(STAMP): pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	@test -x $(PY) || uv venv --quiet --python "$$(command -v python3)" $(VENV)
	uv pip install --quiet --python $(PY) -e '.[test,celery,aws,k8s]'
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/cm demo

test: setup
	$(VENV)/bin/pytest -q -p no:cacheprovider

test-fast: setup
	$(VENV)/bin/pytest -q -p no:cacheprovider -m "not integration"

lint: setup
	$(VENV)/bin/ruff check cm_pipelines tests benchmarks scripts
	$(VENV)/bin/ruff format --check cm_pipelines tests benchmarks scripts
	$(VENV)/bin/lint-imports --no-cache
	$(PY) scripts/shape.py --check --top 0

typecheck: setup
	$(VENV)/bin/mypy

validate: setup
	DAGSTER_HOME=$$(mktemp -d) $(VENV)/bin/dagster definitions validate -w workspace.yaml
	CM_EXECUTOR=celery CM_CELERY_BROKER_URL=redis://127.0.0.1:6379/0 CM_IO_STORAGE=object_store \
	  DAGSTER_HOME=$$(mktemp -d) \
	  $(VENV)/bin/dagster definitions validate -w workspace.yaml

check: lint typecheck validate

# The largest modules and longest functions (limits: 500 and 80 lines; `--check` fails beyond).
shape:
	@python3 scripts/shape.py

bench: setup
	$(PY) -m benchmarks.run_all

ui: setup
	$(VENV)/bin/cm ui

# Two Celery workers on this machine for CM_EXECUTOR=celery (deploy/README.md); Ctrl-C stops both.
workers: setup
	CM_EXECUTOR=celery CM_CELERY_BROKER_URL=$${CM_CELERY_BROKER_URL:-redis://127.0.0.1:6379/0} \
	  bash -c '$(VENV)/bin/cm worker --name worker-1 & $(VENV)/bin/cm worker --name worker-2 & wait'

clean:
	rm -rf .cm
