"""The fused kernels pick numba's workqueue threading layer (axonal.kernels): the OpenMP layer,
started after torch has run, slowed every later torch operation 8-10x on 2 cores."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

SCRIPT = """
import torch, numba
x = torch.rand(20, 2, 8)             # torch runs first, as in any user program
from axonal.neurons import LIF
LIF(8, decay=0.5)(x)                 # first fused kernel
print(numba.threading_layer())
"""


def _layer(env_extra):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2], env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_threading_layer_choice(monkeypatch):
    """workqueue unless the user set NUMBA_THREADING_LAYER or numba's pool already runs."""
    from types import SimpleNamespace

    from numba.np.ufunc import parallel

    from axonal.kernels import _choose_threading_layer

    def choose(initialized, env):
        fake = SimpleNamespace(config=SimpleNamespace(THREADING_LAYER="default"))
        monkeypatch.setattr(parallel, "_is_initialized", initialized)
        if env is None:
            monkeypatch.delenv("NUMBA_THREADING_LAYER", raising=False)
        else:
            monkeypatch.setenv("NUMBA_THREADING_LAYER", env)
        _choose_threading_layer(fake)
        return fake.config.THREADING_LAYER

    assert choose(False, None) == "workqueue"
    assert choose(False, "omp") == "default"   # the user's choice (numba reads the variable)
    assert choose(True, None) == "default"     # too late to change: leave numba alone


@pytest.mark.slow
def test_fused_kernels_use_workqueue_by_default():
    assert _layer({}) == "workqueue"


@pytest.mark.slow
def test_the_users_threading_layer_wins():
    assert _layer({"NUMBA_THREADING_LAYER": "omp"}) == "omp"
