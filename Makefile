# Two entry points, both self-installing on a fresh machine:
#   make demo   train the spiking BasicMotions classifier (main job) and print its metrics
#   make test   run the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/axonal train basic_motions

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

.PHONY: install demo test
