"""Liquid state machine: a fixed spiking "liquid", state features, a trained linear readout.

Maass, Natschläger & Markram, "Real-time computing without stable states", Neural Computation
14:2531 (2002): a recurrent spiking network is left untrained; its response to an input is read
out by a simple (linear) classifier or regressor, the only part that learns. Here:

- the liquid is any callable ``liquid(x) -> spikes`` mapping time-major input ``[T, B, C]`` to
  spikes ``[T, B, N]`` (an ``axonal`` module returning ``(spikes, state)`` works as is, so does
  :class:`axonal.reservoir.nalsm.SpatialLiquid`); it is run without gradients;
- :func:`liquid_features` turns the spikes into a state vector per sample: spike counts in
  ``bins`` equal time bins (``"counts"``; one bin is NALSM's readout, core.md §8) or the
  value of a low-pass filtered trace ``r <- r exp(-1/tau) + s`` sampled at the end of each bin
  (``"trace"``);
- :class:`LiquidStateMachine` standardises the features and fits a scikit-learn readout:
  multinomial logistic regression (``"logistic"``, classification) or ridge regression
  (``"ridge"``, regression; :func:`axonal.metrics.reservoir.ridge_fit`).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from ..metrics.reservoir import nrmse, ridge_fit, ridge_predict

__all__ = ["liquid_features", "LiquidStateMachine"]


def liquid_features(spikes, kind: str = "counts", bins: int = 1, tau: float = 20.0) -> torch.Tensor:
    """State features ``[B, N * bins]`` of liquid spikes ``[T, B, N]``.

    ``kind="counts"``: spikes per neuron in each of ``bins`` consecutive equal windows (the last
    window takes the remainder). ``kind="trace"``: the exponential trace with time constant
    ``tau`` steps read at the end of each window. Features are ordered bin-major.
    """
    s = torch.as_tensor(spikes).float() if not isinstance(spikes, torch.Tensor) else spikes.float()
    if s.ndim != 3:
        raise ValueError(f"liquid_features expects spikes [T, B, N], got shape {tuple(s.shape)}")
    T = s.shape[0]
    if not isinstance(bins, int) or not 1 <= bins <= T:
        raise ValueError(f"liquid_features: bins must be an int in [1, T={T}], got {bins!r}")
    edges = [round(k * T / bins) for k in range(bins + 1)]
    if kind == "counts":
        feats = [s[a:b].sum(0) for a, b in zip(edges[:-1], edges[1:])]
    elif kind == "trace":
        if not tau > 0:
            raise ValueError(f"liquid_features: tau must be > 0, got {tau}")
        decay = math.exp(-1.0 / tau)
        r = torch.zeros_like(s[0])
        ends, feats = set(edges[1:]), []
        for t, s_t in enumerate(s.unbind(0), start=1):
            r = decay * r + s_t
            if t in ends:
                feats.append(r)
    else:
        raise ValueError(f"liquid_features: kind must be 'counts' or 'trace', got {kind!r}")
    return torch.cat(feats, -1)


class LiquidStateMachine:
    """Fixed liquid + features + trained readout.

    ``LiquidStateMachine(liquid, readout="logistic", features="counts", bins=1)``;
    ``fit(x, y)`` (``x [T, B, C]``, ``y [B]`` labels or ``[B, K]`` targets), ``predict(x)``,
    ``score(x, y)`` (accuracy, or NRMSE for ridge), ``transform(x)`` (the features).
    ``regularization``: the inverse strength ``C`` of the logistic readout, or the relative
    ridge penalty ``alpha``. ``batch_size`` runs the liquid in chunks.
    """

    def __init__(self, liquid: Callable, readout: str = "logistic", features: str = "counts",
                 bins: int = 1, tau: float = 20.0, regularization: float | None = None,
                 batch_size: int = 256, max_iter: int = 2000):
        if not callable(liquid):
            raise TypeError("LiquidStateMachine: liquid must be callable: x [T, B, C] -> spikes [T, B, N]")
        if readout not in ("logistic", "ridge"):
            raise ValueError(f"LiquidStateMachine: readout must be 'logistic' or 'ridge', got {readout!r}")
        if features not in ("counts", "trace"):
            raise ValueError(f"LiquidStateMachine: features must be 'counts' or 'trace', got {features!r}")
        self.liquid, self.readout, self.features, self.bins, self.tau = liquid, readout, features, bins, tau
        self.regularization = (1.0 if readout == "logistic" else 1e-4) if regularization is None \
            else regularization
        self.batch_size, self.max_iter = batch_size, max_iter
        self._mean = self._std = self._model = None

    @torch.no_grad()
    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """Run the liquid on ``x [T, B, C]`` and return the features ``[B, F]``."""
        if not isinstance(x, torch.Tensor) or x.ndim != 3:
            raise ValueError(f"LiquidStateMachine: input must be a tensor [T, B, C], got "
                             f"{getattr(x, 'shape', type(x))}")
        out = []
        for b0 in range(0, x.shape[1], self.batch_size):
            s = self.liquid(x[:, b0:b0 + self.batch_size])
            if isinstance(s, tuple):
                s = s[0]
            out.append(liquid_features(s, self.features, self.bins, self.tau))
        return torch.cat(out, 0)

    def _standardize(self, f: torch.Tensor) -> np.ndarray:
        return ((f.double() - self._mean) / self._std).numpy()

    def fit_features(self, feats: torch.Tensor, y) -> "LiquidStateMachine":
        """Fit the readout on precomputed features ``[B, F]`` (reuse one liquid run)."""
        feats = feats.double()
        self._mean = feats.mean(0)
        self._std = feats.std(0).clamp(min=1e-8)
        X = self._standardize(feats)
        y = y.numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        if self.readout == "logistic":
            # lazy: importing scikit-learn costs about a second; only this readout needs it
            from sklearn.linear_model import LogisticRegression

            self._model = LogisticRegression(C=self.regularization, max_iter=self.max_iter).fit(X, y)
        else:
            self._model = ridge_fit(X, y, self.regularization)
        return self

    def fit(self, x: torch.Tensor, y) -> "LiquidStateMachine":
        return self.fit_features(self.transform(x), y)

    def _check_fitted(self):
        if self._model is None:
            raise RuntimeError("LiquidStateMachine: call fit (or fit_features) before predicting")

    def predict_features(self, feats: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        X = self._standardize(feats)
        if self.readout == "logistic":
            return torch.from_numpy(self._model.predict(X))
        return torch.from_numpy(ridge_predict(X, self._model))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict_features(self.transform(x))

    def score_features(self, feats: torch.Tensor, y) -> float:
        """Accuracy (logistic) or NRMSE (ridge) on precomputed features."""
        p = self.predict_features(feats)
        y = torch.as_tensor(y)
        if self.readout == "logistic":
            return float((p == y).double().mean())
        return nrmse(y.double().reshape(p.shape), p)

    def score(self, x: torch.Tensor, y) -> float:
        return self.score_features(self.transform(x), y)
