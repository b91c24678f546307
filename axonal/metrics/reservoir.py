"""Scores of reservoir computers: ridge readout, NRMSE and memory capacity.

- :func:`ridge_fit` / :func:`ridge_predict` — the linear readout trained in closed form,
  ``W = (X^T X + alpha I)^{-1} X^T Y`` on states with a bias column (the bias is not
  penalised), as in echo-state networks (Jaeger, GMD Report 148, 2001; Lukoševičius, "A
  practical guide to applying echo state networks", 2012).
- :func:`nrmse` — ``sqrt(mean((y - y_hat)^2) / var(y))``: 0 is perfect, 1 is as good as
  predicting the mean.
- :func:`memory_capacity` — Jaeger's short-term memory capacity (GMD Report 152, 2002):
  ``MC = sum_k MC_k``, ``MC_k = corr(u(t - k), y_k(t))^2``, with one readout ``y_k`` per delay
  fitted on a training span and scored on a held-out span (so an unrelated delay scores about
  0, not a positive finite-sample bias). For ``N`` linear units ``MC <= N``; a delay line of
  length ``N`` reaches it.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["ridge_fit", "ridge_predict", "nrmse", "memory_capacity"]


def _np2(x, who, name):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{who}: {name} must be [T] or [T, F] (flatten batches first), got shape {a.shape}")
    return a


def ridge_fit(states, targets, alpha: float = 1e-6) -> np.ndarray:
    """Readout weights ``[F + 1, K]`` (last row: bias) for states ``[T, F]`` and targets ``[T, K]``.

    ``alpha`` is relative: the penalty added to the diagonal is ``alpha`` times the mean
    diagonal of the centred Gram matrix, so one value suits states of any scale and length.
    """
    X, Y = _np2(states, "ridge_fit", "states"), _np2(targets, "ridge_fit", "targets")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"ridge_fit: states have {X.shape[0]} rows, targets {Y.shape[0]}")
    if not alpha >= 0:
        raise ValueError(f"ridge_fit: alpha must be >= 0, got {alpha}")
    mx, my = X.mean(0), Y.mean(0)
    Xc, Yc = X - mx, Y - my
    G = Xc.T @ Xc
    scale = float(np.trace(G)) / G.shape[0] or 1.0
    G[np.diag_indices_from(G)] += alpha * scale
    W = np.linalg.lstsq(G, Xc.T @ Yc, rcond=None)[0]
    return np.vstack([W, my - mx @ W])


def ridge_predict(states, weights: np.ndarray) -> np.ndarray:
    """``states [T, F] @ W[:F] + W[F]`` -> ``[T, K]``."""
    X = _np2(states, "ridge_predict", "states")
    if X.shape[1] + 1 != weights.shape[0]:
        raise ValueError(f"ridge_predict: weights were fitted for {weights.shape[0] - 1} features, "
                         f"states have {X.shape[1]}")
    return X @ weights[:-1] + weights[-1]


def nrmse(target, prediction) -> float:
    """Normalised root-mean-square error ``sqrt(MSE / var(target))`` over all elements."""
    y, p = _np2(target, "nrmse", "target"), _np2(prediction, "nrmse", "prediction")
    if y.shape != p.shape:
        raise ValueError(f"nrmse: target {y.shape} and prediction {p.shape} differ in shape")
    v = float(np.var(y))
    if v == 0:
        raise ValueError("nrmse: the target is constant, so the normalisation var(target) is 0")
    return float(np.sqrt(np.mean((y - p) ** 2) / v))


def memory_capacity(states, inputs, max_delay: int = 40, *, washout: int | None = None,
                    train_fraction: float = 0.5, alpha: float = 1e-6, return_profile: bool = False):
    """Jaeger's memory capacity of ``states [T, F]`` driven by the scalar ``inputs [T]``.

    The first ``washout`` steps (default ``max_delay``) are dropped; of the rest,
    ``train_fraction`` fits the ridge readouts (one per delay ``k = 1..max_delay``, solved
    together) and the remainder scores them. Returns ``MC`` (and the profile ``MC_k [max_delay]``
    with ``return_profile=True``).
    """
    X = _np2(states, "memory_capacity", "states")
    u = _np2(inputs, "memory_capacity", "inputs")
    if u.shape[1] != 1:
        raise ValueError(f"memory_capacity: inputs must be one scalar sequence [T], got shape {u.shape}")
    u = u[:, 0]
    if X.shape[0] != len(u):
        raise ValueError(f"memory_capacity: states have {X.shape[0]} steps, inputs {len(u)}")
    if not isinstance(max_delay, int) or max_delay < 1:
        raise ValueError(f"memory_capacity: max_delay must be an int >= 1, got {max_delay!r}")
    washout = max_delay if washout is None else washout
    if washout < max_delay:
        raise ValueError(f"memory_capacity: washout ({washout}) must be >= max_delay ({max_delay}) "
                         "so that every target u(t - k) exists")
    T = len(u)
    idx = np.arange(washout, T)
    n_train = int(len(idx) * train_fraction)
    if n_train < X.shape[1] + 2 or len(idx) - n_train < 10:
        raise ValueError(f"memory_capacity: {T} steps leave too few for training ({n_train}, need > "
                         f"{X.shape[1] + 1} features) and testing; use a longer input")
    Y = np.stack([u[idx - k] for k in range(1, max_delay + 1)], 1)
    tr, te = idx[:n_train], idx[n_train:]
    W = ridge_fit(X[tr], Y[:n_train], alpha)
    P = ridge_predict(X[te], W)
    Yt = Y[n_train:]
    Pc, Yc = P - P.mean(0), Yt - Yt.mean(0)
    den = (Pc ** 2).sum(0) * (Yc ** 2).sum(0)
    prof = np.divide((Pc * Yc).sum(0) ** 2, den, out=np.zeros(max_delay), where=den > 0)
    mc = float(prof.sum())
    return (mc, prof) if return_profile else mc
