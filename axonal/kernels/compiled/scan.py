"""Your own neuron, fused without writing a kernel: ``compile_step``.

The CPU answer to SpikingJelly's FlexSN. You write the neuron as two scalar Python functions,

    def dynamics(x, *state, *params) -> (h, *state_pre)     # h >= 0 means "spike"
    def reset(s, *state_pre, *params) -> (*state_new,)       # s is the spike, 0.0 or 1.0

using only arithmetic operators, ``abs`` and ``math.<f>`` (exp, log, tanh, sqrt, sin, cos,
atan, erf, pow, fabs, expm1, log1p, pi, e) and no branch on values (write ``s``-weighted
expressions such as ``v - s * theta`` instead of ``if``). Both must return tuples. Example,
the LIF of ``lif_step``::

    def dynamics(x, v, beta, theta):
        v = beta * v + x
        return v - theta, v
    def reset(s, v, beta, theta):
        return (v - s * theta,)
    LIFLike = compile_step(dynamics, reset, state=("v",), params=("beta", "theta"))

How it runs (``_symbolic``, ``_codegen``):
- ``compile_step`` traces both functions once with sympy symbols (``math`` rebound to sympy)
  and differentiates them exactly; a step that is not a branch-free expression is refused
  here, with the reason.
- forward: one generated numba kernel loops over time in compiled code, parallel over tasks
  of neurons, calling the user's functions (inlined) on contiguous rows of each state
  variable in the input dtype; the spike is Heaviside(h). The state before every step is
  stored, in the input dtype, only when a gradient is needed.
- backward: a second generated kernel walks time backwards, recomputes the step from the
  stored state, and chains the symbolic local partials (printed as straight-line code after
  common-subexpression elimination) with the surrogate derivative in place of dH/dh,
  accumulating the parameter gradients in float64. Nothing of size T besides the stored
  state and the input gradient is allocated. Exact for the user's step; tested against
  autograd through a plain torch loop of the same model.
- the generated source is written to a cache directory (``$AXONAL_CACHE_DIR``, default
  ``~/.cache/axonal``) under a hash of everything it depends on and compiled with numba's
  ``cache=True``: the first use of a neuron compiles (seconds), later processes load it. The
  file is code that gets executed, so it is used only when the SHA-256 in its first line matches
  the rest of it exactly (a damaged or edited file is regenerated) and neither it nor its folder
  is writable by other users (otherwise the kernels are compiled in memory).

There is no autograd fallback: every function the contract allows has a sympy derivative,
so a step that sympy cannot trace is outside the contract and is reported as an error. The
surrogate must be a built-in one (``axonal.surrogate``; the kernel compiles its formula by
code).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ...functional import check_sequence
from ...network import Temporal
from ...surrogate import Surrogate, get_surrogate
from .. import buffers
from .._backends import numba_available
from ..registry import KernelUnavailable
from ._codegen import BLOCK, cache_key, cached_source, kernel_source, load_kernels
from ._math import MathNamespace, rebind_math

__all__ = ["compile_step", "CompiledStep", "CompiledNeuron"]

_TORCH_MATH = MathNamespace(
    pi=math.pi, e=math.e, exp=torch.exp, log=torch.log, tanh=torch.tanh, sqrt=torch.sqrt,
    sin=torch.sin, cos=torch.cos, atan=torch.atan, erf=torch.erf, pow=torch.pow,
    fabs=torch.abs, expm1=torch.expm1, log1p=torch.log1p)


class CompiledStep:
    """A neuron step compiled by ``compile_step``.

    ``scan(x [T, M], state [K, M], params [P, n]) -> (spikes [T, M], state [K, M])`` with
    autograd, where ``M = B * n`` (the parameters are per neuron and shared over the batch).
    ``reference_step`` is the same step in plain torch. ``kernel_source`` is the generated
    numba code, ``kernel_file`` where it is cached (or "memory").
    """

    def __init__(self, dynamics, reset, state, params, surrogate, detach_reset):
        self.dynamics, self.reset = dynamics, reset
        self.state_names, self.param_names = tuple(state), tuple(params)
        self.surrogate = get_surrogate(surrogate)
        if self.surrogate.code < 0:
            raise ValueError(
                f"compile_step needs a built-in surrogate (one of fast_sigmoid, atan, "
                f"triangle, gaussian, straight_through); got {type(self.surrogate).__name__}, "
                "whose derivative the generated kernel cannot compile")
        self.detach_reset = bool(detach_reset)
        k, p, code = len(self.state_names), len(self.param_names), self.surrogate.code
        self.cache_key = cache_key(dynamics, reset, k, p, code)
        self.kernel_source = cached_source(self.cache_key)
        if self.kernel_source is None:  # not traced before: trace, differentiate, generate
            from ._symbolic import trace_step  # lazy: sympy only when a step is traced

            derivs = trace_step(dynamics, reset, k, p)
            self.kernel_source = kernel_source(self.cache_key, k, p, derivs, code)
        self.kernel_file = None
        self._torch_dyn = rebind_math(dynamics, _TORCH_MATH)
        self._torch_rst = rebind_math(reset, _TORCH_MATH)
        self._kernels = None

    def kernels(self):
        """The module holding the compiled ``forward`` and ``backward`` (loaded once)."""
        if self._kernels is None:
            self._kernels, self.kernel_file = load_kernels(
                self.cache_key, self.kernel_source, self.dynamics, self.reset)
        return self._kernels

    def scan(self, x, state, params):
        if torch.is_grad_enabled() and (x.requires_grad or state.requires_grad
                                        or params.requires_grad):
            return _CompiledScan.apply(self, x, state, params)
        spk, out, _ = _forward(self, x, state, params, store=False)  # nothing stored
        return spk.to(x.dtype), out.to(x.dtype)

    def run(self, x: torch.Tensor, state: Sequence[torch.Tensor], values: Sequence,
            size: Sequence[int]):
        """Scan ``x [T, B, *size]`` from ``state`` (tensors ``[B, *size]`` in ``state_names``
        order) with parameter ``values`` (numbers or tensors broadcastable to ``size``, in
        ``param_names`` order); returns ``(spikes, new_state_tuple)``. Gradients reach ``x``,
        the state and every tensor value. CPU tensors run the numba kernel, others the
        reference step."""
        T, B = x.shape[:2]
        size = tuple(size)
        n = math.prod(size)
        m = B * n
        ps = [torch.broadcast_to(torch.as_tensor(v, dtype=x.dtype, device=x.device), size).reshape(n)
              for v in values]
        params = torch.stack(ps) if ps else x.new_zeros(0, n)
        if x.device.type != "cpu":  # numba is CPU-only: reference loop of the same step
            outs, cur = [], tuple(state)
            pv = [p.reshape(size) for p in params]
            for x_t in x.unbind(0):
                s, cur = self.reference_step(x_t, cur, pv)
                outs.append(s)
            return torch.stack(outs), cur
        st = torch.stack([s.reshape(m) for s in state])
        spk, new = self.scan(x.reshape(T, m), st, params)
        return spk.reshape(x.shape), tuple(new[q].reshape(x.shape[1:]) for q in range(new.shape[0]))

    def kernel(self, bind: Callable):
        """A kernel for ``axonal.kernels.registry``: ``register_kernel(MyParams, "compiled",
        step.kernel(bind))`` where ``bind(params)`` returns the values of ``param_names`` (in
        order) from a neuron's Params, and the neuron's State fields are ``state_names``.
        The population's shape is the input's ``[T, B, *size]``."""
        def kernel(x, state, params, weight=None):
            if weight is not None:
                raise KernelUnavailable("compile_step kernels have no recurrent form")
            if x.device.type != "cpu":
                raise KernelUnavailable(f"the input is on {x.device}; compile_step kernels run on the CPU")
            if x.shape[0] == 0 or x.numel() == 0:
                raise KernelUnavailable("empty input")
            if x.dtype not in (torch.float32, torch.float64):
                raise KernelUnavailable(f"the input dtype is {x.dtype}; compile_step kernels "
                                        "support float32 and float64")
            spikes, new = self.run(x, tuple(state), bind(params), x.shape[2:])
            return spikes, type(state)(*new)

        kernel.__name__ = f"{self.dynamics.__name__}_compiled"
        return kernel

    def reference_step(self, x_t, state, params):
        """The same step in plain torch (for checks and for devices numba cannot reach)."""
        h, *pre = self._torch_dyn(x_t, *state, *params)
        s = self.surrogate(h)
        r = s.detach() if self.detach_reset else s
        return s, tuple(self._torch_rst(r, *pre, *params))


def _as(t: torch.Tensor, dtype) -> np.ndarray:
    return t.detach().to(dtype).contiguous().numpy()


def _forward(step, x, state, params, store):
    """Run the forward kernel. Returns (spikes, state_out, saved) in the kernel dtype, with
    ``saved`` = (x, hist, spikes, params) for the backward when ``store``."""
    T, M = x.shape
    K = state.shape[0]
    n = params.shape[1] if params.ndim == 2 else M
    if n == 0 or M % n:
        raise ValueError(f"params [P, n] must divide x [T, M] by neurons; got n={n}, M={M}")
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    xd = x.detach().to(dtype).contiguous()
    pd = params.detach().to(dtype).contiguous()
    if params.shape[0] == 0:  # numba needs a typed 2-D array even without parameters
        pd = torch.zeros(1, n, dtype=dtype)
    spk = buffers.empty((T, M), dtype)
    hist = buffers.empty((K, T, M) if store else (K, 0, 0), dtype)
    out = torch.empty(K, M, dtype=dtype)
    finite = np.empty(-(-n // BLOCK) * (M // n))
    step.kernels().forward(xd.numpy(), _as(state, dtype), pd.numpy(), n, store,
                           spk.numpy(), hist.numpy(), out.numpy(), finite)
    if not np.isfinite(finite.sum()):
        raise ValueError("compile_step: input contains NaN or inf; clean or clip the input first")
    return spk, out, (xd, hist, spk, pd)


class _CompiledScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, step, x, state, params):
        spk, out, saved = _forward(step, x, state, params, store=True)
        ctx.step, ctx.P = step, params.shape[0]
        ctx.in_dtypes = (x.dtype, state.dtype, params.dtype)
        ctx.save_for_backward(*saved)
        return spk.to(x.dtype), out.to(x.dtype)

    @staticmethod
    def backward(ctx, g_spk, g_state):
        step, P = ctx.step, ctx.P
        xd, hist, spk, pd = ctx.saved_tensors
        T, M = xd.shape
        n = pd.shape[1]
        K = hist.shape[0]
        gx = buffers.empty((T, M), xd.dtype)
        g0 = torch.empty(K, M, dtype=torch.float64)
        gp = torch.empty(max(P, 1), M, dtype=torch.float64)
        if g_spk.stride(0) == 0:  # the same at every step (a spike-count loss): one row
            g_spk = g_spk[:1]
        step.kernels().backward(
            xd.numpy(), hist.numpy(), spk.numpy(), pd.numpy(), _as(g_spk, xd.dtype),
            _as(g_state, torch.float64), n, 0.0 if step.detach_reset else 1.0,
            float(step.surrogate.width), gx.numpy(), g0.numpy(), gp.numpy())
        dx, ds, dp = ctx.in_dtypes
        gpar = gp[:P].reshape(P, M // n, n).sum(1).to(dp)
        return None, gx.to(dx), g0.to(ds), gpar


def compile_step(dynamics: Callable, reset: Callable, *, state: Sequence[str],
                 params: Sequence[str] = (), surrogate: str | Surrogate = "atan",
                 detach_reset: bool = True) -> CompiledStep:
    """Compile a user neuron (see the module docstring for the contract). Tracing and the
    symbolic derivatives happen here; numba compiles (or loads from its cache) at first use."""
    if not state:
        raise ValueError("compile_step needs at least one state variable name, e.g. state=('v',)")
    if not numba_available():
        raise RuntimeError("compile_step needs numba: pip install numba")
    return CompiledStep(dynamics, reset, state, params, surrogate, detach_reset)


class CompiledNeuron(Temporal):
    """Module for a ``CompiledStep``: ``forward(x [T, B, *S], state=None) -> (spikes, state)``.

    ``CompiledNeuron(step, size, beta=0.9, theta=1.0, learn=("beta",))``: every parameter of
    the step gets a value (number, or tensor broadcastable to ``size``); names in ``learn``
    become ``nn.Parameter`` s. The state is a tuple of tensors in ``step.state_names`` order;
    ``initial`` gives start values (default 0).
    """

    def __init__(self, step: CompiledStep, size: int | Sequence[int], *, learn: Sequence[str] = (),
                 initial: dict | None = None, **param_values):
        super().__init__()
        self.step = step
        self.size = (size,) if isinstance(size, int) else tuple(size)
        missing = set(step.param_names) - set(param_values)
        extra = set(param_values) - set(step.param_names)
        if missing or extra:
            raise ValueError(f"parameters of {step.dynamics.__name__}: {list(step.param_names)}; "
                             f"missing {sorted(missing)}, unknown {sorted(extra)}")
        self.initial = dict(initial or {})
        self._values = {}
        for name in step.param_names:
            v = param_values[name]
            v = v.detach() if isinstance(v, torch.Tensor) and v.is_floating_point() else \
                torch.as_tensor(v, dtype=torch.float32)
            if name in learn:
                self.register_parameter(name, nn.Parameter(v.clone()))
            else:
                self.register_buffer(name, v.clone())

    def forward(self, x: torch.Tensor, state: tuple | None = None):
        # the CPU kernel checks finiteness on the fly; the reference loop elsewhere does not
        cpu = isinstance(x, torch.Tensor) and x.device.type == "cpu"
        check_sequence(x, self.size, type(self).__name__, finite=not cpu)
        if state is None:
            state = tuple(torch.full(x.shape[1:], float(self.initial.get(s, 0.0)), dtype=x.dtype)
                          for s in self.step.state_names)
        return self.step.run(x, state, [getattr(self, p) for p in self.step.param_names], self.size)
