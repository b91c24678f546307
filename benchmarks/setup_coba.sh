#!/usr/bin/env bash
# Optional baselines for benchmarks/coba.py, each in its own venv under .bench-venvs/ (ignored by git):
#   .bench-venvs/brian2   Brian2 2.9 (cython code generation; needs numpy < 2.4 and a C++ compiler)
#   .bench-venvs/brainpy  BrainPy with CPU jax
# axonal itself runs from the project venv. Usage: bash benchmarks/setup_coba.sh [brian2|brainpy]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3.11}
which="${1:-all}"
if [[ "$which" == all || "$which" == brian2 ]]; then
  "$PY" -m venv .bench-venvs/brian2
  .bench-venvs/brian2/bin/pip install -q --upgrade pip
  .bench-venvs/brian2/bin/pip install -q "brian2==2.9.*" "numpy<2.4" cython setuptools
fi
if [[ "$which" == all || "$which" == brainpy ]]; then
  "$PY" -m venv .bench-venvs/brainpy
  .bench-venvs/brainpy/bin/pip install -q --upgrade pip
  .bench-venvs/brainpy/bin/pip install -q brainpy "jax[cpu]" numba   # brainevent's CPU event kernels need numba
fi
