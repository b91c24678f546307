"""Triton kernels of the LIF family (axonal.kernels.lif.triton) against the reference scan.

Triton is optional: without it only the checks of the error messages and of the lazy import
run. With it, the kernels run on CUDA tensors when a GPU is present, else on CPU tensors in
Triton's interpreter (``TRITON_INTERPRET=1``, set by the ``device`` fixture before the
kernels are first built). Spikes must be identical and states equal to the reference scan;
gradients (input, initial state, learnable per-neuron constants, recurrent weight) must
equal autograd through the reference: to 1e-9 in float64, to float32 rounding in float32.
Shapes are small because the interpreter is slow.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
import torch

from axonal.kernels import KernelUnavailable, run_kernel
from axonal.neurons import (IF, LIF, AdaptiveLIF, CurrentBasedLIF, LIFParams, LIFState,
                            ParametricLIF, Recurrent, RecurrentState)
from axonal.surrogate import SURROGATES, TABLE, get_surrogate

HAS_TRITON = importlib.util.find_spec("triton") is not None
needs_triton = pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed (optional)")
CLASSES = {"lif": LIF, "cuba_lif": CurrentBasedLIF, "adaptive_lif": AdaptiveLIF, "if": IF,
           "plif": ParametricLIF}
RESETS = ["subtract", "zero", "none"]
NAMES = sorted(cls.name for cls in TABLE)  # the surrogates with kernel code
WIDTHS = {"fast_sigmoid": 0.4, "atan": 0.7, "triangle": 1.3, "gaussian": 0.5,
          "straight_through": 0.8}


@pytest.fixture(scope="module")
def device():
    """CUDA when present; else the CPU under Triton's interpreter (env var restored after)."""
    if not HAS_TRITON:
        pytest.skip("triton is not installed (optional)")
    if torch.cuda.is_available():
        yield "cuda"
        return
    old = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    from axonal.kernels.lif import _triton_kernels as _triton_lif_kernels

    if not (_triton_lif_kernels.INTERPRETED and _triton_lif_kernels.LANGUAGE_INTERPRETED):
        pytest.skip("triton or the kernels were imported for a GPU earlier in this process")
    yield "cpu"
    if old is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = old


def _leaves(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for s in state for t in _leaves(s)]


def _pair(kind, n, recurrent, seed, dtype, device, **kw):
    """Reference (scan) and Triton modules with the same perturbed parameters."""
    cls = CLASSES[kind]
    torch.manual_seed(seed)
    ref = cls(n, backend="scan", **kw)
    tri = cls(n, backend="triton", **kw)
    if recurrent:
        ref, tri = Recurrent(ref, weight_scale=2.0), Recurrent(tri, weight_scale=2.0)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    tri.load_state_dict(ref.state_dict())
    return ref.to(device, dtype), tri.to(device, dtype)


def _state(module, x, seed):
    """A non-zero initial state requiring grad (as streaming passes one in)."""
    gen = torch.Generator().manual_seed(seed)
    shape = x.shape[1:]

    def rand():
        return (torch.rand(shape, generator=gen, dtype=x.dtype) * 0.7).to(x.device)

    if isinstance(module, Recurrent):
        inner = module.neuron.State(*(rand() for _ in module.neuron.State._fields))
        spikes = (rand() < 0.2).to(x.dtype)
        st = RecurrentState(inner, spikes)
    else:
        st = module.State(*(rand() for _ in module.State._fields))
    for t in _leaves(st):
        t.requires_grad_()
    return st


def _compare(ref, tri, x, seed, exact_states, tol):
    st_r, st_t = _state(ref, x, seed), _state(tri, x, seed)
    xr, xt = x.clone().requires_grad_(), x.clone().requires_grad_()
    s_r, new_r = ref(xr, st_r)
    s_t, new_t = tri(xt, st_t)
    assert torch.equal(s_r, s_t), "spikes differ"
    for a, b in zip(_leaves(new_r), _leaves(new_t)):
        if exact_states:
            assert torch.equal(a, b)
        else:
            torch.testing.assert_close(b, a, rtol=tol, atol=tol)
    # a loss reaching every path: the spikes of every step and every final state
    w = torch.randn(s_r.shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype).to(x.device)
    loss_r = (w * s_r).sum() + sum((t * (1 + k)).sum() for k, t in enumerate(_leaves(new_r)))
    loss_t = (w * s_t).sum() + sum((t * (1 + k)).sum() for k, t in enumerate(_leaves(new_t)))
    in_r = [xr, *_leaves(st_r), *ref.parameters()]
    in_t = [xt, *_leaves(st_t), *tri.parameters()]
    g_r = torch.autograd.grad(loss_r, in_r, allow_unused=True)
    g_t = torch.autograd.grad(loss_t, in_t, allow_unused=True)
    for a, b in zip(g_r, g_t):
        if a is None:
            assert b is None or torch.all(b == 0)
        else:
            torch.testing.assert_close(b, a, rtol=tol, atol=tol)
    return s_r


def _input(t, b, n, seed, dtype, device, gain=1.0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(t, b, n, generator=gen, dtype=dtype) * gain + 0.45).to(device)


# ----------------------------------------------------------------------------- surrogate
@needs_triton
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("cls", TABLE, ids=lambda c: c.name)
def test_triton_surrogate_equals_torch_class(device, cls, dtype):
    """Triton's form of each surrogate (the table's formula with ``ops = triton.language``)
    equals the torch class's derivative on a grid, window edges included."""
    from axonal.kernels.lif import _triton_kernels as K

    z = torch.cat([torch.linspace(-3, 3, 121, dtype=torch.float64),
                   torch.tensor([0.3, -0.3, 1.0, -1.0, 2.5, -2.5], dtype=torch.float64)]).to(dtype)
    for width in (0.3, 1.0, 2.5):
        a, b = cls.constants(width)
        consts = torch.tensor([a, b, 1.0, 0.0], dtype=dtype, device=device)
        zd = z.to(device)
        out = torch.empty_like(zd)
        K.surrogate_kernel[(1,)](zd, consts, out, zd.numel(), CODE=cls.code, BLOCK=128)
        ref = cls(width=width).derivative(z)
        tol = 1e-12 if dtype == torch.float64 else 2e-6
        torch.testing.assert_close(out.cpu(), ref, rtol=tol, atol=tol)


# ----------------------------------------------------------------------------- equivalence
@needs_triton
@pytest.mark.parametrize("surrogate", NAMES)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_triton_equals_reference_float64(device, kind, reset, surrogate):
    """Every kind x reset x surrogate; detach_reset alternates so each pair sees both."""
    detach = (NAMES.index(surrogate) + RESETS.index(reset)) % 2 == 0
    seed = 7 * NAMES.index(surrogate) + RESETS.index(reset)
    cls = CLASSES[kind]
    kw = dict(reset=reset, detach_reset=detach,
              surrogate=get_surrogate(surrogate, WIDTHS[surrogate]),
              learn=cls.learnable_names, per_neuron=True)
    ref, tri = _pair(kind, 5, False, seed, torch.float64, device, **kw)
    x = _input(9, 2, 5, seed, torch.float64, device, gain=1.2)
    s = _compare(ref, tri, x, seed + 1, exact_states=False, tol=1e-9)
    assert 0 < s.sum() < s.numel()


@needs_triton
@pytest.mark.parametrize("detach", [True, False])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_triton_recurrent_equals_reference_float64(device, kind, reset, detach):
    """Recurrent forms (one launch per step), gradient of the recurrent weight included."""
    seed = 3 * RESETS.index(reset) + detach
    cls = CLASSES[kind]
    name = NAMES[seed % len(NAMES)]
    kw = dict(reset=reset, detach_reset=detach, surrogate=get_surrogate(name, WIDTHS[name]),
              learn=cls.learnable_names, per_neuron=True)
    ref, tri = _pair(kind, 4, True, seed, torch.float64, device, **kw)
    x = _input(7, 2, 4, seed, torch.float64, device)
    s = _compare(ref, tri, x, seed + 1, exact_states=False, tol=1e-9)
    assert s.sum() > 0


@needs_triton
@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_triton_float32_identical_forward(device, kind, reset, recurrent):
    """float32: the kernel does the reference's arithmetic in the same order and dtype, so
    spikes and (feed-forward) states are bitwise equal; gradients to float32 rounding."""
    cls = CLASSES[kind]
    seed = RESETS.index(reset) + 10 * recurrent
    kw = dict(reset=reset, learn=cls.learnable_names, per_neuron=True,
              surrogate=get_surrogate(NAMES[seed % 5]))
    ref, tri = _pair(kind, 16, recurrent, seed, torch.float32, device, **kw)
    x = _input(20, 3, 16, seed, torch.float32, device, gain=0.8)
    _compare(ref, tri, x, seed + 1, exact_states=not recurrent, tol=1e-4)


@needs_triton
@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_triton_multidim_scalar_learned_and_tensor_constants(device, kind):
    """Neuron shape [3, 4], one learned value per layer, a threshold tensor broadcasting to it."""
    cls = CLASSES[kind]
    thr = torch.tensor([0.8, 1.0, 1.2, 0.9], dtype=torch.float64, device=device)
    kw = dict(threshold=thr, learn=[n for n in cls.learnable_names if n != "threshold"])
    ref = cls((3, 4), backend="scan", **kw).to(device, torch.float64)
    tri = cls((3, 4), backend="triton", **kw).to(device, torch.float64)
    x = (torch.randn(10, 2, 3, 4, generator=torch.Generator().manual_seed(0),
                     dtype=torch.float64) + 0.5).to(device)
    s = _compare(ref, tri, x, 2, exact_states=False, tol=1e-9)
    assert s.sum() > 0


@needs_triton
def test_triton_streaming_and_no_grad(device):
    """Two halves with the state passed on equal the whole; inference stores nothing."""
    for module in (LIF(6, backend="triton"), AdaptiveLIF(6, backend="triton"),
                   Recurrent(CurrentBasedLIF(6, backend="triton"), weight_scale=2.0)):
        module = module.to(device, torch.float64)
        x = _input(12, 2, 6, 4, torch.float64, device)
        with torch.no_grad():
            s_full, st_full = module(x)
            s1, st1 = module(x[:5])
            s2, st2 = module(x[5:], st1)
        assert torch.equal(torch.cat([s1, s2]), s_full)
        for a, b in zip(_leaves(st2), _leaves(st_full)):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def _run_fresh(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter without TRITON_INTERPRET (the test session sets
    it); fails the test if the process does not exit cleanly."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), *sys.path]),
           "OMP_NUM_THREADS": "1"}
    env.pop("TRITON_INTERPRET", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out


# ----------------------------------------------------------------------------- dispatch
def test_import_axonal_does_not_import_triton_and_missing_triton_is_explained():
    """In a fresh process where triton cannot be imported, backend='triton' says so and how
    to fix it, backend='auto' still runs on the CPU, and importing axonal never imports triton."""
    code = (
        "import sys\n"
        "import axonal, axonal.neurons, axonal.kernels\n"
        "assert sys.modules.get('triton') is None, 'import axonal imported triton'\n"
        "sys.modules['triton'] = None\n"
        "import torch\n"
        "from axonal.neurons import LIF\n"
        "x = torch.rand(4, 2, 3)\n"
        "LIF(3)(x)\n"
        "try:\n"
        "    LIF(3, backend='triton')(x)\n"
        "except RuntimeError as e:\n"
        "    print(e)\n"
    )
    out = _run_fresh(code)
    assert "triton is not importable" in out.stdout
    assert "pip install" in out.stdout and "backend='reference'" in out.stdout


@needs_triton
def test_cpu_tensor_without_interpreter_is_explained(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    x = torch.rand(3, 2, 4)
    with pytest.raises(RuntimeError, match="CUDA tensors.*backend='numba'.*TRITON_INTERPRET=1"):
        run_kernel(LIFParams(), x, LIFState(torch.zeros(2, 4)), backend="triton")


def test_auto_without_triton_falls_back_and_forced_triton_raises(monkeypatch):
    """``auto`` picks Triton only for CUDA tensors and returns None (reference scan) when
    Triton is missing; a kind without a Triton kernel is named when forced."""
    from axonal.kernels.lif import triton as triton_lif

    monkeypatch.setattr(triton_lif, "_TRITON_ERROR", "triton is not importable (test)")
    x = torch.rand(3, 2, 4)
    st, p = LIFState(torch.zeros(2, 4)), LIFParams()
    assert run_kernel(p, x.to("meta"), LIFState(torch.zeros(2, 4, device="meta"))) is None
    with pytest.raises(RuntimeError, match="triton is not importable"):
        run_kernel(p, x, st, backend="triton")
    assert run_kernel(p, x, st) is not None  # CPU auto: numba, untouched
    monkeypatch.setattr(triton_lif, "_TRITON_ERROR", "")
    monkeypatch.setattr(triton_lif, "device_error", lambda device: "")
    from axonal.neurons import IzhikevichParams

    with pytest.raises(KernelUnavailable, match="cannot run IzhikevichParams.*no triton kernel"):
        run_kernel(IzhikevichParams(), x, st, backend="triton")
    with pytest.raises(ValueError, match="unknown backend"):
        run_kernel(p, x, st, backend="cuda-magic")


@needs_triton
def test_interpreter_set_after_triton_was_imported_is_explained():
    """Triton decides at its own import whether its language functions are interpreted; a
    TRITON_INTERPRET=1 set later must give a clear error, not a failure inside tl.zeros."""
    code = (
        "import os, torch\n"
        "import triton\n"
        "os.environ['TRITON_INTERPRET'] = '1'\n"
        "from axonal.kernels import KernelUnavailable, run_kernel\n"
        "from axonal.neurons import LIFParams, LIFState\n"
        "try:\n"
        "    run_kernel(LIFParams(), torch.rand(3, 2, 4), LIFState(torch.zeros(2, 4)),\n"
        "               backend='triton')\n"
        "except RuntimeError as e:\n"
        "    print(e)\n"
    )
    out = _run_fresh(code)
    assert "after triton itself was imported" in out.stdout


@needs_triton
@pytest.mark.parametrize("recurrent", [False, True], ids=["plain", "recurrent"])
@pytest.mark.parametrize("kind", ["adaptive_lif", "cuba_lif", "if", "lif"])
def test_triton_fires_on_an_exact_tie_like_the_reference(device, kind, recurrent):
    """Issue 24: the Triton kernels fire on ``v - threshold >= 0`` like the reference step.
    Inputs (and recurrent weights) in quarters, decays of 1/2 and a zero initial state keep
    every membrane exact, so membranes land on the threshold (``tests/kernels/ties.py``)."""
    from tests.kernels.ties import STRICT, TIE_KW, tie_input

    x = tie_input(12, 2, 5, seed=len(kind), dtype=torch.float32).to(device)
    spikes = {}
    for theta in (1.0, STRICT):
        mods = []
        for backend in ("scan", "triton"):
            m = CLASSES[kind](5, backend=backend, threshold=theta, **TIE_KW[kind])
            if recurrent:
                m = Recurrent(m)
                with torch.no_grad():
                    w = torch.randint(-2, 3, m.weight.shape, generator=torch.Generator().manual_seed(5))
                    m.weight.copy_(w.to(m.weight.dtype) / 4)
            mods.append(m.to(device, torch.float32))
        with torch.no_grad():
            (s_r, st_r), (s_t, st_t) = (m(x) for m in mods)
        assert torch.equal(s_r, s_t), "spikes differ at an exact tie"
        assert all(torch.equal(a, b) for a, b in zip(_leaves(st_r), _leaves(st_t)))
        spikes[theta] = s_r
    assert not torch.equal(spikes[1.0], spikes[STRICT]), "no exact tie reached"
