# Two commands do everything on a fresh clone: `make repro` (pipeline) and `make test` (tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup repro test bench bench-pipeline clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes; torch/torchvision come from the pinned pair.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

repro: setup
	dvc repro

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	dvc repro split
	$(BIN)/python benchmarks/train_speed.py

# The previous release: the newest tag before HEAD (HEAD~1 where there is none). BASELINE=REV picks another.
BASELINE ?= $(shell git describe --tags --abbrev=0 HEAD~1 2>/dev/null || git rev-parse --short HEAD~1)

bench-pipeline: setup
	$(BIN)/python benchmarks/pipeline.py --baseline $(BASELINE)

clean:
	rm -rf $(VENV)
