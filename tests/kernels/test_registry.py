"""The kernel registry (axonal.kernels.registry): one failure contract, lazy targets, backend
names, forms, and the ``compile_step`` bridge (``CompiledStep.kernel``) against the reference.

Toy Params types are registered per test and removed afterwards, so the real neurons'
registrations are untouched.
"""
from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from typing import NamedTuple

import pytest
import torch

from axonal.kernels import registry
from axonal.kernels.registry import (BACKENDS, KernelUnavailable, check_backend, find_form,
                                     register_form, register_kernel, registered, run_kernel)
from axonal.neurons.base import NeuronParams, constant, scan


@pytest.fixture
def clean_registry():
    """Registrations made by a test are undone after it."""
    kernels, forms = dict(registry._KERNELS), dict(registry._FORMS)
    yield
    registry._KERNELS.clear()
    registry._KERNELS.update(kernels)
    registry._FORMS.clear()
    registry._FORMS.update(forms)


@dataclass(frozen=True)
class ToyParams(NeuronParams):
    gain: float = constant(2.0, check="finite")


class ToyState(NamedTuple):
    v: torch.Tensor


def _doubling_kernel(x, state, params, weight=None):
    return x * params.gain, ToyState(state.v + x.sum(0))


def _refusing_kernel(x, state, params, weight=None):
    raise KernelUnavailable("the toy kernel refuses negative input")


def _inputs():
    return torch.rand(4, 2, 3), ToyState(torch.zeros(2, 3))


# ----------------------------------------------------------------------------- failure contract
def test_auto_is_silent_and_forced_raises_naming_backend_type_and_reason(clean_registry):
    x, st0 = _inputs()
    # nothing registered: auto -> None (reference scan); forced -> names the type and what it has
    assert run_kernel(ToyParams(), x, st0) is None
    with pytest.raises(KernelUnavailable) as e:
        run_kernel(ToyParams(), x, st0, backend="compiled")
    msg = str(e.value)
    assert "backend='compiled'" in msg and "ToyParams" in msg and "no compiled kernel" in msg
    assert "it has none" in msg and "backend='auto'" in msg
    # a kernel that refuses these inputs: the same contract, with the kernel's own reason
    register_kernel(ToyParams, "compiled", _refusing_kernel)
    assert run_kernel(ToyParams(), x, st0) is None
    with pytest.raises(KernelUnavailable, match=r"backend='compiled' cannot run ToyParams: the toy "
                                                 r"kernel refuses negative input"):
        run_kernel(ToyParams(), x, st0, backend="compiled")
    # a backend whose requirement the input fails (numba: CPU float32/float64 only)
    register_kernel(ToyParams, "numba", _doubling_kernel)
    xi = torch.ones(4, 2, 3, dtype=torch.int32)
    assert run_kernel(ToyParams(), xi, st0) is None
    with pytest.raises(KernelUnavailable, match=r"backend='numba' cannot run ToyParams: .*int32"):
        run_kernel(ToyParams(), xi, st0, backend="numba")
    with pytest.raises(KernelUnavailable, match=r"no triton kernel .*it has: numba, compiled"):
        run_kernel(ToyParams(), x, st0, backend="triton")


def test_auto_tries_the_cpu_backends_in_order(clean_registry):
    """CPU auto: numba first, then compiled; a refusal moves on to the next one."""
    x, st0 = _inputs()
    register_kernel(ToyParams, "numba", _refusing_kernel)
    register_kernel(ToyParams, "compiled", _doubling_kernel)
    out, new = run_kernel(ToyParams(gain=3.0), x, st0)
    assert torch.equal(out, x * 3.0) and torch.equal(new.v, x.sum(0))
    assert registered(ToyParams) == ("numba", "compiled")
    assert run_kernel(ToyParams(), x, st0, backend="reference") is None
    assert run_kernel(ToyParams(), x, st0, backend="scan") is None  # the old name


def test_unknown_backend_names_the_valid_ones(clean_registry):
    x, st0 = _inputs()
    with pytest.raises(ValueError, match=r"unknown backend 'cuda-magic'; choose 'auto' or one of"):
        run_kernel(ToyParams(), x, st0, backend="cuda-magic")
    with pytest.raises(ValueError, match="unknown backend"):
        register_kernel(ToyParams, "fortran", _doubling_kernel)
    with pytest.raises(ValueError, match="register a concrete backend"):
        register_kernel(ToyParams, "reference", _doubling_kernel)
    assert check_backend("scan") == "reference" and set(BACKENDS) >= {"numba", "triton"}


# ----------------------------------------------------------------------------- lazy targets
def test_string_target_is_imported_on_first_use_only(clean_registry, tmp_path, monkeypatch):
    name = "axonal_toy_kernel_module"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        CALLS = []

        def kernel(x, state, params, weight=None):
            CALLS.append(1)
            return x + params.gain, state
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    register_kernel(ToyParams, "compiled", f"{name}:kernel")
    assert name not in sys.modules  # registering imports nothing
    x, st0 = _inputs()
    out, _ = run_kernel(ToyParams(gain=1.5), x, st0, backend="compiled")
    assert name in sys.modules and sys.modules[name].CALLS == [1]
    assert torch.equal(out, x + 1.5)
    monkeypatch.delitem(sys.modules, name)


def test_a_missing_string_target_fails_loudly(clean_registry):
    register_kernel(ToyParams, "compiled", "axonal.kernels:no_such_kernel")
    x, st0 = _inputs()
    with pytest.raises(AttributeError, match="no_such_kernel"):
        run_kernel(ToyParams(), x, st0, backend="compiled")


# ----------------------------------------------------------------------------- forms
def test_forms_are_found_by_params_type_and_family(clean_registry):
    assert find_form(ToyParams, "lif") is None
    register_form(ToyParams, "lif", lambda p: ("toy form", p.gain))
    assert find_form(ToyParams, "lif")(ToyParams(gain=4.0)) == ("toy form", 4.0)
    assert find_form(ToyParams, "other") is None


def test_the_lif_family_is_registered_by_form():
    """Every LIF-family neuron reaches the kernels (and the fused event-driven Linear) through
    its registered form; none has a kernel name."""
    from axonal.kernels.lif import LIFDynamics
    from axonal.neurons import (IF, LIF, AdaptiveLIF, CurrentBasedLIF, ParametricLIF)

    for cls in (LIF, CurrentBasedLIF, AdaptiveLIF, IF, ParametricLIF):
        assert not hasattr(cls, "kernel_name")
        form = find_form(cls.Params, "lif")
        assert isinstance(form(cls.Params()), LIFDynamics)
        assert {"numba", "triton"} <= set(registered(cls.Params))
    assert find_form(IF.Params, "lif")(IF.Params()).beta == 1.0


# ----------------------------------------------------------------------------- compile_step bridge
@dataclass(frozen=True)
class ToyLeakyParams(NeuronParams):
    beta: float | torch.Tensor = constant(0.8, learn="unit")
    theta: float | torch.Tensor = constant(1.0, learn="positive")
    surrogate: str = "atan"


class ToyLeakyState(NamedTuple):
    v: torch.Tensor


def _toy_step(x, state, p):
    v = p.beta * state.v + x
    s = p.surrogate(v - p.theta)
    return s, ToyLeakyState(v - s.detach() * p.theta)


def test_compiled_step_kernel_equals_the_reference_step(clean_registry):
    """``CompiledStep.kernel(bind)`` registered for a toy Params type: ``run_kernel`` with
    ``backend="compiled"`` equals the reference scan of the same step in values and in the
    gradients of the input, the initial state and both constants."""
    pytest.importorskip("numba")
    pytest.importorskip("sympy")
    from axonal.kernels import compile_step

    def dynamics(x, v, beta, theta):
        v = beta * v + x
        return v - theta, v

    def reset(s, v, beta, theta):
        return (v - s * theta,)

    step = compile_step(dynamics, reset, state=("v",), params=("beta", "theta"))
    register_kernel(ToyLeakyParams, "compiled", step.kernel(lambda p: (p.beta, p.theta)))
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(12, 3, 5, generator=gen, dtype=torch.float64) * 0.9).requires_grad_()
    v0 = (torch.rand(3, 5, generator=gen, dtype=torch.float64) * 0.5).requires_grad_()
    beta = torch.full((5,), 0.85, dtype=torch.float64, requires_grad=True)
    theta = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    p = ToyLeakyParams(beta=beta, theta=theta)
    s_k, st_k = run_kernel(p, x, ToyLeakyState(v0), backend="compiled")
    s_r, st_r = scan(_toy_step, x, ToyLeakyState(v0), p)
    assert isinstance(st_k, ToyLeakyState)
    assert torch.equal(s_k, s_r) and 0 < s_r.sum() < s_r.numel()
    torch.testing.assert_close(st_k.v, st_r.v, rtol=1e-12, atol=1e-12)
    w = torch.randn(s_r.shape, generator=gen, dtype=torch.float64)
    g_k = torch.autograd.grad((w * s_k).sum() + st_k.v.sum(), [x, v0, beta, theta])
    g_r = torch.autograd.grad((w * s_r).sum() + st_r.v.sum(), [x, v0, beta, theta])
    for a, b in zip(g_k, g_r):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- layering
def test_kernels_never_import_neurons_and_import_axonal_stays_light():
    """Kernels know neurons only through registered forms: no module under axonal/kernels
    imports axonal.neurons (absolute or relative), and ``import axonal`` imports neither
    numba nor Triton nor sympy (they load on a kernel's first use)."""
    import ast
    import subprocess
    from pathlib import Path

    import axonal.kernels

    root = Path(axonal.kernels.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        depth = len(path.relative_to(root).parts)  # kernels/x.py: 1; kernels/lif/x.py: 2
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:  # resolve "..neurons" from the file's package
                    up = node.level - depth  # levels above axonal/kernels
                    mod = ("axonal." if up == 1 else "axonal.kernels." if up == 0 else "") + mod
                names = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(n == "axonal.neurons" or n.startswith("axonal.neurons.") for n in names):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []
    code = ("import sys, axonal, axonal.kernels, axonal.kernels.lif, axonal.kernels.event\n"
            "print(sorted(m for m in ('numba', 'triton', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
