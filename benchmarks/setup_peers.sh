#!/usr/bin/env bash
# Create the benchmark venv .bench-venvs/peers from scratch: torch 2.13.0 (CPU build, pinned by
# constraints.txt), snnTorch, SpikingJelly, Norse, and axonal itself in editable mode.
#   bash benchmarks/setup_peers.sh && .bench-venvs/peers/bin/python -m benchmarks.peers
# Kept apart from the project's .venv so that the peers' dependencies never leak into it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.bench-venvs/peers"
python="${PYTHON:-python3}"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install -c "$root/constraints.txt" -r "$root/benchmarks/requirements-peers.txt"
"$venv/bin/pip" install -c "$root/constraints.txt" -e "$root"
"$venv/bin/python" - <<'PY'
import torch
assert torch.__version__.startswith("2.13.0") and torch.version.cuda is None, (
    f"expected the torch 2.13.0 CPU build, got {torch.__version__} (cuda {torch.version.cuda})")
from importlib.metadata import version
for dist in ("axonal", "torch", "snntorch", "spikingjelly", "norse"):
    print(f"{dist:<13} {version(dist)}")
PY
