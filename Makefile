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
	# peers that declare torchvision/torchaudio (unused by us; a pip torchvision breaks the CPU
	# torch): their own code only, their real dependencies come with snntorch/tonic/numba above
	$(BIN)/pip install -q -c constraints.txt --no-deps 'norse==1.1.0' 'neurobench==2.3.0' 'spikingjelly==2.0.0'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/axonal train basic_motions

test: $(STAMP)
	$(BIN)/python -m pytest -n 2

.PHONY: install demo test
