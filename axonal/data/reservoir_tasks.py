"""Seeded benchmark signals of reservoir computing: memory capacity, NARMA-10, Mackey-Glass.

- :func:`memory_capacity_task` — i.i.d. uniform input ``u(t)``; the targets are its past values
  ``u(t - k)`` for ``k = 1..max_delay`` (Jaeger, "Short term memory in echo state networks", GMD
  Report 152, 2002). The capacity itself is :func:`axonal.metrics.reservoir.memory_capacity`.
- :func:`narma10` — the 10th-order nonlinear autoregressive moving average system (Atiya &
  Parlos, IEEE TNN 11:697, 2000; the standard reservoir form of Jaeger, NIPS 2002):
  ``y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{9} y(t-i) + 1.5 u(t-9) u(t) + 0.1``,
  ``u(t) ~ U[0, 0.5]``; the task is to output ``y(t+1)`` having seen ``u`` up to ``t``.
- :func:`mackey_glass` — the delay differential equation
  ``dx/dt = beta x(t-tau) / (1 + x(t-tau)^n) - gamma x(t)`` (Mackey & Glass, Science 197:287,
  1977) with ``beta = 0.2, gamma = 0.1, n = 10``; chaotic for ``tau = 17``. Integrated by
  fourth-order Runge-Kutta with step ``dt`` (delayed values at half steps by linear
  interpolation of the stored history) and sampled every ``sample_every`` time units;
  :func:`mackey_glass_prediction` turns it into ``horizon``-step-ahead prediction.

All arrays are float64 numpy ``[T]`` (tasks return time-major tensors ``[T, 1, 1]`` for
reservoirs via :func:`as_time_major`). ``seed`` fixes every random draw.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

__all__ = ["memory_capacity_task", "narma10", "narma", "mackey_glass", "mackey_glass_prediction",
           "RegressionTask", "as_time_major"]


class RegressionTask(NamedTuple):
    inputs: np.ndarray    # [T] (or [T, C])
    targets: np.ndarray   # [T] or [T, K]


def _check_steps(who, steps, minimum=1):
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < minimum:
        raise ValueError(f"{who}: steps must be an int >= {minimum}, got {steps!r}")


def as_time_major(x: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """``[T]`` -> ``[T, 1, 1]``, ``[T, C]`` -> ``[T, 1, C]``: one sequence as a reservoir input."""
    t = torch.as_tensor(np.asarray(x), dtype=dtype)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"as_time_major expects [T] or [T, C], got shape {tuple(t.shape)}")
    return t[:, None, :]


def memory_capacity_task(steps: int, max_delay: int = 40, *, low: float = -0.5, high: float = 0.5,
                         seed: int = 0) -> RegressionTask:
    """Input ``u [T]`` i.i.d. uniform on ``[low, high]`` and targets ``[T, max_delay]``, column
    ``k - 1`` being ``u(t - k)`` (zero before the start; discard a washout longer than
    ``max_delay`` before scoring)."""
    _check_steps("memory_capacity_task", steps, 2)
    if not isinstance(max_delay, int) or max_delay < 1:
        raise ValueError(f"memory_capacity_task: max_delay must be an int >= 1, got {max_delay!r}")
    if not high > low:
        raise ValueError(f"memory_capacity_task: need high > low, got low={low}, high={high}")
    u = np.random.default_rng(seed).uniform(low, high, steps)
    y = np.zeros((steps, max_delay))
    for k in range(1, max_delay + 1):
        y[k:, k - 1] = u[:-k]
    return RegressionTask(u, y)


def narma(u: np.ndarray, order: int = 10, coefficients=(0.3, 0.05, 1.5, 0.1)) -> np.ndarray:
    """NARMA of ``order`` n driven by ``u``: ``y(t+1) = a y(t) + b y(t) sum_{i<n} y(t-i) +
    c u(t-n+1) u(t) + d`` with ``(a, b, c, d) = coefficients``; returns ``y [T]`` with
    ``y[t]`` the output *after* input ``u[t]`` (``y[t] = y(t+1)``), zero history.

    The window sum is kept as a running sum (O(T)); the test checks it against a direct loop.
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 1:
        raise ValueError(f"narma expects a 1-D input sequence, got shape {u.shape}")
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"narma: order must be an int >= 1, got {order!r}")
    a, b, c, d = coefficients
    T = len(u)
    hist = np.zeros(T + order)          # hist[order + t] = y(t); y(t) = 0 for t <= 0
    window = 0.0                        # sum_{i<order} y(t - i)
    for t in range(T):
        yt = hist[order + t - 1] if t > 0 else 0.0   # y(t) in the paper's indexing
        u_old = u[t - order + 1] if t - order + 1 >= 0 else 0.0
        y_next = a * yt + b * yt * window + c * u_old * u[t] + d
        if not np.isfinite(y_next) or abs(y_next) > 1e6:
            raise ValueError(f"narma: the recurrence diverged at step {t} (y = {y_next}); NARMA-{order} "
                             "is only stable for small inputs, e.g. u in [0, 0.5] for order 10")
        hist[order + t] = y_next
        window += y_next - hist[t]      # add y(t+1), drop y(t+1-order)
    return hist[order:]


def narma10(steps: int, *, seed: int = 0, low: float = 0.0, high: float = 0.5) -> RegressionTask:
    """NARMA-10 with ``u ~ U[low, high]`` (default ``[0, 0.5]``): inputs ``u [T]``, targets ``y [T]``
    where ``y[t]`` is to be predicted from ``u[:t+1]``."""
    _check_steps("narma10", steps)
    u = np.random.default_rng(seed).uniform(low, high, steps)
    return RegressionTask(u, narma(u, 10))


def mackey_glass(steps: int, *, tau: float = 17.0, beta: float = 0.2, gamma: float = 0.1, n: float = 10.0,
                 dt: float = 0.1, sample_every: float = 1.0, washout: float = 500.0, x0: float = 1.2,
                 seed: int | None = 0) -> np.ndarray:
    """Mackey-Glass series ``[steps]`` sampled every ``sample_every`` time units after ``washout``.

    The history on ``[-tau, 0]`` is ``x0`` (plus uniform jitter of +-0.05 drawn with ``seed``;
    ``seed=None`` for none). ``tau`` must be a multiple of ``dt`` (the stored history grid).
    """
    _check_steps("mackey_glass", steps)
    for name, v in (("tau", tau), ("dt", dt), ("sample_every", sample_every)):
        if not v > 0:
            raise ValueError(f"mackey_glass: {name} must be > 0, got {v}")
    d = tau / dt
    if abs(d - round(d)) > 1e-9:
        raise ValueError(f"mackey_glass: tau={tau} must be a multiple of dt={dt}")
    every = sample_every / dt
    if abs(every - round(every)) > 1e-9:
        raise ValueError(f"mackey_glass: sample_every={sample_every} must be a multiple of dt={dt}")
    d, every = int(round(d)), int(round(every))
    n_wash = int(round(washout / dt))
    total = n_wash + steps * every
    x = np.empty(total + d + 1)
    jitter = 0.0 if seed is None else np.random.default_rng(seed).uniform(-0.05, 0.05, d + 1)
    x[: d + 1] = x0 + jitter            # x[i] is x at time (i - d) dt; x[d] is t = 0

    def f(xt, xd):
        return beta * xd / (1.0 + xd ** n) - gamma * xt

    for i in range(d, d + total):
        xd0, xd1 = x[i - d], x[i - d + 1]
        xdh = 0.5 * (xd0 + xd1)
        xi = x[i]
        k1 = f(xi, xd0)
        k2 = f(xi + 0.5 * dt * k1, xdh)
        k3 = f(xi + 0.5 * dt * k2, xdh)
        k4 = f(xi + dt * k3, xd1)
        x[i + 1] = xi + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    out = x[d + 1 + n_wash:]
    return out[every - 1::every][:steps].copy()


def mackey_glass_prediction(steps: int, horizon: int = 1, **kwargs) -> RegressionTask:
    """``horizon``-step-ahead prediction on Mackey-Glass: inputs ``x(t)``, targets ``x(t + horizon)``
    (``steps`` pairs; keyword arguments go to :func:`mackey_glass`)."""
    if not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"mackey_glass_prediction: horizon must be an int >= 1, got {horizon!r}")
    x = mackey_glass(steps + horizon, **kwargs)
    return RegressionTask(x[:steps], x[horizon:])
