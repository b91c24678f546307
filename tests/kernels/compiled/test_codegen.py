"""The compile_step disk cache holds code that is executed when loaded: it is trusted only when
its recorded SHA-256 matches the whole file and only this user can change it
(``axonal.kernels.compiled._codegen.cached_source``)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from axonal.kernels import CompiledNeuron, compile_step
from axonal.kernels.compiled._codegen import _write_once, cached_source


def cache_dynamics(x, v):
    v = 0.75 * v + x
    return v - 1.0, v


def cache_reset(s, v):
    return (v - s,)


def memory_dynamics(x, v):
    v = 0.625 * v + x
    return v - 1.0, v


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_only_a_complete_private_cache_file_is_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv("AXONAL_CACHE_DIR", str(tmp_path))
    step = compile_step(cache_dynamics, cache_reset, state=("v",))
    step.kernels()
    path = Path(step.kernel_file)
    good = path.read_text()
    assert cached_source(step.cache_key) == good
    lines = good.split("\n")
    path.write_text("\n".join(lines[:5] + ["import os  # injected"] + lines[5:]))
    assert cached_source(step.cache_key) is None                  # a line injected after the header
    path.write_text(good[: len(good) // 2])
    assert cached_source(step.cache_key) is None                  # truncated
    path.write_text(good.replace("0.75", "0.5"))
    assert cached_source(step.cache_key) is None                  # same length, other code
    _write_once(path, good)                                       # regeneration replaces it
    assert cached_source(step.cache_key) == good
    os.chmod(path, 0o666)
    assert cached_source(step.cache_key) is None                  # writable by others
    os.chmod(path, 0o644)
    os.chmod(path.parent, 0o777)
    assert cached_source(step.cache_key) is None                  # folder writable by others
    os.chmod(path.parent, 0o755)
    assert cached_source(step.cache_key) == good


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_cache_folder_others_can_write_is_not_used(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    (shared / "compile_step").mkdir(parents=True)
    os.chmod(shared / "compile_step", 0o777)
    monkeypatch.setenv("AXONAL_CACHE_DIR", str(shared))
    step = compile_step(memory_dynamics, cache_reset, state=("v",))
    # float64 and a fixed input, as the kernel tests compare: rounding cannot flip a spike
    x = torch.rand(5, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    s, (v,) = CompiledNeuron(step, 3)(x)
    assert step.kernel_file == "memory" and not list((shared / "compile_step").iterdir())
    ref, vr = [], torch.zeros(2, 3, dtype=torch.float64)
    for x_t in x.unbind(0):
        vr = 0.625 * vr + x_t
        sp = (vr - 1.0 >= 0).float()
        ref.append(sp)
        vr = vr - sp
    assert torch.equal(s, torch.stack(ref)) and torch.allclose(v, vr)
