# Two commands do everything on a fresh clone: `make repro` (pipeline) and `make test` (tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DEV_STAMP := $(VENV)/.installed-dev
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup setup-dev repro lint format test test-fast bench bench-pipeline bench-experiment team-up team-down sweep clean

setup: $(STAMP)
setup-dev: $(DEV_STAMP)

# Re-installs only when pyproject.toml changes; torch/torchvision come from the pinned pair. The
# pipeline needs the core dependencies alone.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $(STAMP)

# The fast tests and the linter need the dev extra alone (pytest, ruff).
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(TEST_STAMP)

# Every test and the operations: also the team extra (PostgreSQL driver, moto's S3 server, DVC's S3
# remote) and the cluster extra (Dask), since the tests start that stack and a loopback cluster.
$(DEV_STAMP): $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,team,cluster]'
	touch $(DEV_STAMP)

# PostgreSQL, an S3-compatible store and an MLflow server on 127.0.0.1; prints the exports to run.
team-up: setup-dev
	$(BIN)/python -m ops team up

team-down:
	$(BIN)/python -m ops team down

repro: setup
	dvc repro

# ruff's linter and formatter, configured in pyproject.toml (.ci/run runs lint before the tests)
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every test, the slowest 15 named at the end (CI runs this). Two workers: half of a serial run is
# waiting (server start-ups, queues), which the other worker fills; the two tests that run queue workers
# share a group (--dist loadgroup), so they never run at once (with three workers they slowed to twice
# their time and the suite gained nothing); tests/conftest.py hands out the longest work first.
test: setup-dev
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=15

# The inner loop: every test that starts no dvc, mlflow, PostgreSQL or browser process.
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup-dev
	dvc repro split
	$(BIN)/python -m benchmarks.train_speed

# The previous release: the newest tag before HEAD (HEAD~1 where there is none). BASELINE=REV picks another.
BASELINE ?= $(shell git describe --tags --abbrev=0 HEAD~1 2>/dev/null || git rev-parse --short HEAD~1)

bench-pipeline: setup-dev
	$(BIN)/python -m benchmarks.pipeline --baseline $(BASELINE)

# A one-variant and a classify experiment on a reproduced baseline, stage by stage, BASELINE beside HEAD.
bench-experiment: setup-dev
	$(BIN)/python -m benchmarks.experiment --baseline $(BASELINE)

# Experiments on a Dask cluster, pulled back and compared: make sweep ARGS='--set "variants.mlp.latent_dim=8" --seeds 0 1'
# (add --scheduler tcp://HOST:PORT for a running cluster; without it, a local one on 127.0.0.1).
ARGS ?=
sweep: setup-dev
	$(BIN)/python -m ops sweep $(ARGS)

clean:
	rm -rf $(VENV)
