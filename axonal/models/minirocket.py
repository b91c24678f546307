"""MiniRocket baseline (Dempster, Schmidt & Webb, "MINIROCKET: a very fast (almost)
deterministic transform for time series classification", KDD 2021), through aeon.

This is the non-neural method a practitioner would reach for first on small multivariate time
series (BasicMotions, JapaneseVowels, ...): thousands of fixed random dilated convolutions,
proportion-of-positive-values pooling and a ridge classifier. It is not trained by gradient
descent: :class:`MiniRocketBaseline` is fitted once, when the recipe's model is built
(``fit_splits``), on the training *and* validation splits (the neural models use validation for
early stopping only; MiniRocket has no epochs to stop, so it gets the same labelled data), and
the trainer then skips its epoch loop. Fitting is deterministic for a given ``random_state``, so
re-building the model from a checkpoint reproduces it exactly.

aeon is an optional dependency of this baseline only; a clear ``ImportError`` says how to get it.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["MiniRocketBaseline"]


def _import_minirocket():
    # lazy: aeon (and its numba transforms) loads only when a MiniRocket baseline is fitted
    try:
        from aeon.classification.convolution_based import MiniRocketClassifier
    except ImportError as err:  # pragma: no cover - aeon ships with the default install
        raise ImportError("the MiniRocket baseline needs the optional dependency aeon: pip install aeon") from err
    return MiniRocketClassifier


class MiniRocketBaseline(nn.Module):
    """aeon's ``MiniRocketClassifier`` behind the recipe interface: ``forward(x [T, B, C]) -> [B, K]``.

    The scores are one-hot rows of the predicted class (the ridge classifier gives no
    probabilities), so the cross-entropy the trainer reports for it is not comparable with the
    neural models'; accuracy is. ``trains_by_gradient = False`` tells the trainer to skip its
    epoch loop.
    """

    trains_by_gradient = False

    def __init__(self, n_classes: int, n_kernels: int = 10000, max_dilations_per_kernel: int = 32,
                 random_state: int = 0, n_jobs: int = 1):
        super().__init__()
        if n_kernels < 84:
            raise ValueError(f"MiniRocket needs n_kernels >= 84 (one per fixed kernel), got {n_kernels}")
        self.n_classes = int(n_classes)
        self.n_kernels, self.max_dilations, self.random_state, self.n_jobs = (
            int(n_kernels), int(max_dilations_per_kernel), int(random_state), int(n_jobs))
        self._clf = None

    @staticmethod
    def _series(x: torch.Tensor) -> np.ndarray:
        """``[N, T, C]`` tensor -> aeon's ``[N, C, T]`` float64 array."""
        return np.ascontiguousarray(x.detach().cpu().double().numpy().transpose(0, 2, 1))

    def fit_arrays(self, x: torch.Tensor, y: torch.Tensor) -> "MiniRocketBaseline":
        """Fit on sample-major ``x [N, T, C]`` and labels ``y [N]``."""
        if x.ndim != 3 or y.ndim != 1:
            raise ValueError("MiniRocket fits sequence classification: x [N, T, C] and one label y [N] per "
                             f"sample; got x {tuple(x.shape)}, y {tuple(y.shape)} (per-step targets are not supported)")
        cls = _import_minirocket()
        self._clf = cls(n_kernels=self.n_kernels, max_dilations_per_kernel=self.max_dilations,
                        random_state=self.random_state, n_jobs=self.n_jobs)
        self._clf.fit(self._series(x), y.cpu().numpy())
        return self

    def fit_splits(self, splits) -> "MiniRocketBaseline":
        """Fit on ``splits.train`` plus ``splits.val`` (``axonal.data.DatasetSplits``)."""
        if splits.info.per_step:
            raise ValueError("MiniRocket classifies whole sequences; dataset "
                             f"{splits.info.name!r} has per-step targets — pick a neural model for it")
        x = torch.cat([splits.train.x, splits.val.x]) if len(splits.val) else splits.train.x
        y = torch.cat([splits.train.y, splits.val.y]) if len(splits.val) else splits.train.y
        return self.fit_arrays(x, y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._clf is None:
            raise RuntimeError("MiniRocketBaseline is not fitted: call fit_splits(splits) or fit_arrays(x, y) "
                               "first (the trainer does this when it builds the model)")
        if x.ndim != 3:
            raise ValueError(f"MiniRocketBaseline expects time-major x [T, B, C], got shape {tuple(x.shape)}")
        pred = self._clf.predict(self._series(x.transpose(0, 1)))
        return torch.nn.functional.one_hot(torch.as_tensor(pred.astype(np.int64)), self.n_classes).to(x.dtype)
