"""Sparse connectivity in CSR form indexed by the presynaptic neuron, and seeded generators.

A :class:`Connectivity` holds the synapses of one projection (``n_pre`` sources to ``n_post``
targets) as compressed rows: the synapses of presynaptic neuron ``j`` are the positions
``indptr[j]:indptr[j+1]`` of ``indices`` (postsynaptic neuron), ``weights``, ``delays``
(integer steps, >= 0) and ``channels`` (which synaptic channel of the target receives them:
excitatory / inhibitory conductance, fast / slow current, ...). Rows by presynaptic neuron are
what event-driven propagation needs: a spike of ``j`` touches only row ``j`` (BrainPy's
``event_csr_matvec``, Wang et al., eLife 2023, secondary.md §23), so one step costs
``spikes x fan-out`` instead of ``N^2``.

Generators draw the synapses from a seeded :class:`numpy.random.Generator`, so a connectivity
can be *regenerated* instead of stored (BrainPy's just-in-time connectivity idea): every
generated connectivity keeps its recipe in ``spec`` and :meth:`Connectivity.regenerate`
rebuilds an identical copy (same synapses, weights, delays, channels) from it.

- :func:`random_connectivity`: each pair connected independently with probability ``p``
  (Erdős–Rényi; the COBA benchmark's 2 %, Brette et al., J. Comput. Neurosci. 2007).
- :func:`distance_connectivity`: probability ``C[g_pre, g_post] * exp(-(d / lam)^2)`` of the
  Euclidean distance ``d`` between 3-D positions (Maass, Natschläger & Markram 2002; NALSM,
  Ivanov & Michmizos 2021, core.md §8, with ``lam = 3`` and ``C_EE, C_EI, C_IE, C_II = 0.2,
  0.1, 0.3, 0.05``), positions from :func:`grid_positions` or :func:`random_positions`.
- :func:`excitatory_mask` labels a population 80/20 (or any fraction) excitatory/inhibitory.

Weights, delays and channels are given as a scalar, an array over presynaptic neurons (for
example a weight of +1 for excitatory and -1 for inhibitory sources), or a callable
``f(rng, pre, post) -> array`` of the synapses' pre and post indices (random or
distance-dependent values), always drawn from the same seeded stream.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..synapses.sparse_connectivity import SparseSynapse

__all__ = [
    "Connectivity", "random_connectivity", "distance_connectivity", "grid_positions",
    "random_positions", "excitatory_mask", "GROUP_EXC", "GROUP_INH",
]

GROUP_EXC, GROUP_INH = 0, 1
_CHUNK = 1 << 22  # pairs drawn per block: bounds the temporary memory of the generators


def _as_array(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


@dataclass(eq=False)
class Connectivity:
    """Synapses of one projection in CSR by presynaptic neuron (see the module docstring).

    ``weights`` is float64 and may be changed in place (plasticity does); use
    :meth:`get_weights` / :meth:`set_weights` from outside. ``delays`` are integer steps
    (0 = the spike acts on the next step, as a delay of 0 in Brian2). ``spec`` is the
    generator's recipe (``None`` for a connectivity built from arrays). Compare two with
    :meth:`equal` (``==`` is identity).
    """

    n_pre: int
    n_post: int
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    delays: np.ndarray
    channels: np.ndarray
    spec: dict | None = None
    _by_post: tuple | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self.n_pre, self.n_post = int(self.n_pre), int(self.n_post)
        if self.n_pre < 0 or self.n_post < 0:
            raise ValueError(f"Connectivity sizes must be >= 0, got n_pre={self.n_pre}, n_post={self.n_post}")
        self.indptr = np.ascontiguousarray(_as_array(self.indptr, "indptr"), dtype=np.int64)
        self.indices = np.ascontiguousarray(_as_array(self.indices, "indices"), dtype=np.int64)
        nnz = self.indices.shape[0]
        self.weights = np.ascontiguousarray(_as_array(self.weights, "weights"), dtype=np.float64)
        self.delays = np.ascontiguousarray(_as_array(self.delays, "delays"), dtype=np.int64)
        self.channels = np.ascontiguousarray(_as_array(self.channels, "channels"), dtype=np.int64)
        if self.indptr.shape != (self.n_pre + 1,) or self.indptr[0] != 0 or self.indptr[-1] != nnz \
                or np.any(np.diff(self.indptr) < 0):
            raise ValueError(f"Connectivity.indptr must be non-decreasing of length n_pre + 1 = "
                             f"{self.n_pre + 1} from 0 to nnz = {nnz}; got shape {self.indptr.shape}")
        for name in ("weights", "delays", "channels"):
            if getattr(self, name).shape != (nnz,):
                raise ValueError(f"Connectivity.{name} must have one entry per synapse ({nnz}), got "
                                 f"shape {getattr(self, name).shape}")
        if nnz and (self.indices.min() < 0 or self.indices.max() >= self.n_post):
            raise ValueError(f"Connectivity.indices must lie in [0, n_post={self.n_post})")
        if not np.all(np.isfinite(self.weights)):
            raise ValueError("Connectivity.weights contain NaN or infinity; give finite weights")
        if nnz and self.delays.min() < 0:
            raise ValueError(f"Connectivity.delays must be >= 0 steps, got min {self.delays.min()}")
        if nnz and self.channels.min() < 0:
            raise ValueError(f"Connectivity.channels must be >= 0, got min {self.channels.min()}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_coo(cls, pre, post, weights, n_pre: int, n_post: int, delays=0, channels=0,
                 spec: dict | None = None) -> "Connectivity":
        """Build from synapse lists ``pre[k] -> post[k]`` (any order; sorted into CSR rows).

        ``weights``, ``delays`` and ``channels`` are per synapse or scalars. Duplicate pairs are
        allowed (they act as two synapses).
        """
        pre = _as_array(pre, "pre").astype(np.int64).ravel()
        post = _as_array(post, "post").astype(np.int64).ravel()
        if pre.shape != post.shape:
            raise ValueError(f"pre and post must have the same length, got {pre.shape} and {post.shape}")
        if pre.size and (pre.min() < 0 or pre.max() >= n_pre):
            raise ValueError(f"pre indices must lie in [0, n_pre={n_pre})")
        nnz = pre.size
        w = np.broadcast_to(_as_array(weights, "weights").astype(np.float64), (nnz,))
        d = np.broadcast_to(_as_array(delays, "delays"), (nnz,))
        if d.size and not np.all(np.equal(np.round(d), d)):
            raise ValueError("delays must be whole numbers of steps; round them (np.round(delay_ms / dt))")
        d = d.astype(np.int64)
        c = np.broadcast_to(_as_array(channels, "channels").astype(np.int64), (nnz,))
        order = np.lexsort((post, pre))
        indptr = np.zeros(n_pre + 1, dtype=np.int64)
        np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
        return cls(n_pre, n_post, indptr, post[order], w[order], d[order], c[order], spec)

    @classmethod
    def from_dense(cls, weight, delays=0, channels=0) -> "Connectivity":
        """Build from a dense matrix ``weight[pre, post]``; its nonzero entries are the synapses.

        ``delays`` / ``channels`` are scalars or dense ``[pre, post]`` arrays read at the nonzeros.
        """
        w = _as_array(weight, "weight").astype(np.float64)
        if w.ndim != 2:
            raise ValueError(f"from_dense expects a 2-D matrix [pre, post], got shape {w.shape}")
        pre, post = np.nonzero(w)

        def pick(x):
            x = _as_array(x, "x")
            return x[pre, post] if x.ndim == 2 else x

        return cls.from_coo(pre, post, w[pre, post], w.shape[0], w.shape[1], pick(delays), pick(channels))

    # ------------------------------------------------------------------ views
    @property
    def nnz(self) -> int:
        """Number of synapses."""
        return int(self.indices.shape[0])

    @property
    def pre_indices(self) -> np.ndarray:
        """Presynaptic neuron of every synapse (CSR order)."""
        return np.repeat(np.arange(self.n_pre, dtype=np.int64), np.diff(self.indptr))

    @property
    def max_delay(self) -> int:
        return int(self.delays.max()) if self.nnz else 0

    @property
    def n_channels(self) -> int:
        """1 + the largest channel index used (at least 1)."""
        return int(self.channels.max()) + 1 if self.nnz else 1

    def fan_out(self) -> np.ndarray:
        """Synapses per presynaptic neuron ``[n_pre]``."""
        return np.diff(self.indptr)

    def fan_in(self) -> np.ndarray:
        """Synapses per postsynaptic neuron ``[n_post]``."""
        return np.bincount(self.indices, minlength=self.n_post)

    def get_weights(self) -> torch.Tensor:
        """A copy of the weights ``[nnz]`` (CSR order), float64 tensor."""
        return torch.from_numpy(self.weights.copy())

    def set_weights(self, weights) -> None:
        """Overwrite the weights ``[nnz]`` (CSR order; a scalar fills all), keeping the structure."""
        w = _as_array(weights, "weights").astype(np.float64)
        w = np.broadcast_to(w, (self.nnz,)) if w.ndim == 0 else w
        if w.shape != (self.nnz,):
            raise ValueError(f"set_weights expects {self.nnz} weights (one per synapse, CSR order), "
                             f"got shape {w.shape}")
        if not np.all(np.isfinite(w)):
            raise ValueError("set_weights: weights contain NaN or infinity")
        self.weights[:] = w

    def to_dense(self, what: str = "weights") -> np.ndarray:
        """Dense ``[n_pre, n_post]`` matrix of ``weights`` (summed over duplicate pairs), or of
        ``delays`` / ``channels`` (last synapse of a pair wins), or ``mask`` (bool)."""
        pre = self.pre_indices
        if what == "weights":
            out = np.zeros((self.n_pre, self.n_post))
            np.add.at(out, (pre, self.indices), self.weights)
            return out
        if what == "mask":
            out = np.zeros((self.n_pre, self.n_post), dtype=bool)
            out[pre, self.indices] = True
            return out
        if what in ("delays", "channels"):
            out = np.zeros((self.n_pre, self.n_post), dtype=np.int64)
            out[pre, self.indices] = getattr(self, what)
            return out
        raise ValueError(f"to_dense(what={what!r}): use 'weights', 'mask', 'delays' or 'channels'")

    def synapse(self, channel: int | None = None, *, trainable: bool = False,
                dtype: torch.dtype | None = None) -> SparseSynapse:
        """This projection as an ``axonal.synapses.SparseSynapse`` (``[T, B, n_pre] ->
        [T, B, n_post]``, the same weights in CSR order), for batched PyTorch networks.

        A SparseSynapse has no delays and one output: ``channel`` selects the synapses of one
        channel (None: all, which must then share one); a delayed projection is an error
        (delays belong to the engine, or to ``axonal.synapses.delay``)."""
        if self.nnz and self.delays.max() > 0:
            raise ValueError("Connectivity.synapse: this projection has synaptic delays, which a "
                             "SparseSynapse does not model; run it in SparseNetwork or set the "
                             "delays to 0")
        keep = np.ones(self.nnz, dtype=bool)
        if channel is not None:
            keep = self.channels == channel
        elif self.nnz and self.channels.min() != self.channels.max():
            raise ValueError("Connectivity.synapse: the synapses use several channels "
                             f"({sorted(set(self.channels.tolist()))}); pick one with channel=")
        return SparseSynapse(self.n_pre, self.n_post, torch.from_numpy(self.pre_indices[keep]),
                             torch.from_numpy(self.indices[keep]),
                             torch.from_numpy(self.weights[keep]), trainable=trainable,
                             dtype=dtype)

    def by_post(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The transposed index, cached: ``(post_ptr [n_post+1], synapse ids sorted by post,
        their presynaptic neurons)``. Plasticity uses it to reach a neuron's incoming synapses."""
        if self._by_post is None:
            order = np.argsort(self.indices, kind="stable").astype(np.int64)
            ptr = np.zeros(self.n_post + 1, dtype=np.int64)
            np.cumsum(np.bincount(self.indices, minlength=self.n_post), out=ptr[1:])
            self._by_post = (ptr, order, self.pre_indices[order])
        return self._by_post

    def copy(self) -> "Connectivity":
        return Connectivity(self.n_pre, self.n_post, self.indptr.copy(), self.indices.copy(),
                            self.weights.copy(), self.delays.copy(), self.channels.copy(),
                            dict(self.spec) if self.spec else None)

    def regenerate(self) -> "Connectivity":
        """Rebuild this connectivity from its seeded recipe (identical synapses and values)."""
        if not self.spec:
            raise ValueError("this Connectivity was built from arrays and has no generator recipe "
                             "(spec); only generated connectivities can be regenerated")
        spec = dict(self.spec)
        fn = _GENERATORS[spec.pop("generator")]
        return fn(**spec)

    def equal(self, other: "Connectivity") -> bool:
        """True when both hold the same synapses, weights, delays and channels."""
        return (self.n_pre == other.n_pre and self.n_post == other.n_post
                and all(np.array_equal(getattr(self, k), getattr(other, k))
                        for k in ("indptr", "indices", "weights", "delays", "channels")))


# ---------------------------------------------------------------------- value helpers
def _values(spec, rng, pre, post, n_pre: int, name: str, integer: bool) -> np.ndarray:
    """Evaluate a scalar / per-presynaptic array / callable(rng, pre, post) at the synapses."""
    if callable(spec):
        v = _as_array(spec(rng, pre, post), name)
        if v.shape != pre.shape:
            raise ValueError(f"the {name} callable must return one value per synapse "
                             f"(shape {pre.shape}), got shape {v.shape}")
    else:
        v = _as_array(spec, name)
        if v.ndim == 0:
            v = np.full(pre.shape, v.item())
        elif v.shape == (n_pre,):
            v = v[pre]
        else:
            raise ValueError(f"{name} must be a scalar, an array over the {n_pre} presynaptic neurons, "
                             f"or a callable f(rng, pre, post); got an array of shape {v.shape}")
    if integer:
        if v.size and not np.all(np.equal(np.round(v), v)):
            raise ValueError(f"{name} must be whole numbers of steps; round them (np.round(ms / dt))")
        return v.astype(np.int64)
    return v.astype(np.float64)


def _check_seed(seed):
    if seed is None:
        raise ValueError("a generator needs an integer seed so the connectivity can be regenerated; "
                         "pass seed=0 (or any int)")
    return int(seed)


def _assemble(pre_list, post_list, n_pre, n_post, weight, delay, channel, rng, spec):
    pre = np.concatenate(pre_list) if pre_list else np.zeros(0, np.int64)
    post = np.concatenate(post_list) if post_list else np.zeros(0, np.int64)
    pre, post = pre.astype(np.int64), post.astype(np.int64)
    w = _values(weight, rng, pre, post, n_pre, "weight", False)
    d = _values(delay, rng, pre, post, n_pre, "delay", True)
    c = _values(channel, rng, pre, post, n_pre, "channel", True)
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
    # blocks are drawn in row-major order, so (pre, post) is already sorted
    return Connectivity(n_pre, n_post, indptr, post, w, d, c, spec)


# ---------------------------------------------------------------------- generators
def random_connectivity(n_pre: int, n_post: int, p: float, weight=1.0, *, seed: int,
                        delay=0, channel=0, autapses: bool = True) -> Connectivity:
    """Each of the ``n_pre x n_post`` pairs is a synapse independently with probability ``p``.

    ``autapses=False`` (square projections only) excludes ``j -> j``. ``weight`` / ``delay`` /
    ``channel``: scalar, array over presynaptic neurons, or ``f(rng, pre, post)``.
    Deterministic given ``seed``; :meth:`Connectivity.regenerate` rebuilds it.
    """
    if not (isinstance(p, (int, float)) and 0.0 <= float(p) <= 1.0) or math.isnan(float(p)):
        raise ValueError(f"connection probability p must be a number in [0, 1], got {p!r}")
    n_pre, n_post = int(n_pre), int(n_post)
    if n_pre < 0 or n_post < 0:
        raise ValueError(f"sizes must be >= 0, got n_pre={n_pre}, n_post={n_post}")
    if not autapses and n_pre != n_post:
        raise ValueError("autapses=False needs a square projection (n_pre == n_post)")
    seed = _check_seed(seed)
    spec = dict(generator="random", n_pre=n_pre, n_post=n_post, p=float(p), weight=weight,
                seed=seed, delay=delay, channel=channel, autapses=autapses)
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK // max(n_post, 1))
    pres, posts = [], []
    for r0 in range(0, n_pre, rows):
        r1 = min(n_pre, r0 + rows)
        mask = rng.random((r1 - r0, n_post)) < p
        if not autapses:
            k = np.arange(r0, r1)
            mask[k - r0, k] = False
        a, b = np.nonzero(mask)
        pres.append(a + r0)
        posts.append(b)
    return _assemble(pres, posts, n_pre, n_post, weight, delay, channel, rng, spec)


def grid_positions(shape, spacing: float = 1.0) -> np.ndarray:
    """Positions ``[prod(shape), 3]`` of a regular 3-D grid (x fastest... z slowest: C order of
    ``shape = (d1, d2, d3)``), as the NALSM liquid's ``10 x 10 x 10`` (core.md §8)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"grid_positions expects three positive sizes (d1, d2, d3), got {shape}")
    if not spacing > 0:
        raise ValueError(f"spacing must be > 0, got {spacing}")
    g = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1)
    return g.reshape(-1, 3).astype(np.float64) * spacing


def random_positions(n: int, extent=(1.0, 1.0, 1.0), *, seed: int) -> np.ndarray:
    """``n`` positions ``[n, 3]`` uniform in the box ``[0, extent)``, seeded."""
    ext = np.asarray(extent, dtype=np.float64)
    if ext.shape != (3,) or np.any(ext <= 0):
        raise ValueError(f"extent must be three positive lengths, got {extent!r}")
    return np.random.default_rng(_check_seed(seed)).random((int(n), 3)) * ext


def excitatory_mask(n: int, frac_exc: float = 0.8, *, seed: int | None = None) -> np.ndarray:
    """Boolean ``[n]``, True for the ``round(frac_exc * n)`` excitatory neurons.

    ``seed=None``: the first ones are excitatory (COBA's 3200 E then 800 I); an int seed
    scatters them at random (as the NALSM liquid's 80/20 E/I over the grid).
    """
    if not 0.0 <= frac_exc <= 1.0:
        raise ValueError(f"frac_exc must lie in [0, 1], got {frac_exc}")
    mask = np.zeros(int(n), dtype=bool)
    mask[: int(round(frac_exc * n))] = True
    if seed is not None:
        np.random.default_rng(int(seed)).shuffle(mask)
    return mask


def distance_connectivity(pos_pre, pos_post, lam: float, c=1.0, weight=1.0, *, seed: int,
                          pre_groups=None, post_groups=None, delay=0, channel=0,
                          autapses: bool = False) -> Connectivity:
    """Pair ``j -> i`` connected with probability ``C[g_j, g_i] * exp(-(|x_j - x_i| / lam)^2)``.

    ``pos_pre [n_pre, 3]``, ``pos_post [n_post, 3]``; ``c`` a scalar or a matrix
    ``[groups_pre, groups_post]`` indexed by the integer labels ``pre_groups`` / ``post_groups``
    (e.g. 0 = excitatory, 1 = inhibitory: ``c=[[C_EE, C_EI], [C_IE, C_II]]``; a boolean
    excitatory mask is read as E = 0, I = 1). ``autapses=False`` excludes ``j -> j`` when pre and
    post are the same population (same positions array shape). Seeded and regenerable.
    """
    P = _as_array(pos_pre, "pos_pre").astype(np.float64)
    Q = _as_array(pos_post, "pos_post").astype(np.float64)
    if P.ndim != 2 or Q.ndim != 2 or P.shape[1] != Q.shape[1]:
        raise ValueError(f"positions must be [n, dim] arrays of the same dim, got {P.shape} and {Q.shape}")
    if not lam > 0:
        raise ValueError(f"lam (the length constant) must be > 0, got {lam}")
    n_pre, n_post = P.shape[0], Q.shape[0]

    def groups(g, n, name):
        if g is None:
            return np.zeros(n, dtype=np.int64)
        g = _as_array(g, name)
        if g.dtype == bool:
            g = np.where(g, GROUP_EXC, GROUP_INH)
        if g.shape != (n,):
            raise ValueError(f"{name} must have one label per neuron ({n}), got shape {g.shape}")
        return g.astype(np.int64)

    gp, gq = groups(pre_groups, n_pre, "pre_groups"), groups(post_groups, n_post, "post_groups")
    C = np.atleast_2d(_as_array(c, "c").astype(np.float64))
    if C.shape == (1, 1):
        C = np.full((gp.max(initial=0) + 1, gq.max(initial=0) + 1), C.item())
    if C.shape[0] <= gp.max(initial=0) or C.shape[1] <= gq.max(initial=0):
        raise ValueError(f"c has shape {C.shape} but the group labels go up to "
                         f"({gp.max(initial=0)}, {gq.max(initial=0)})")
    if np.any(~np.isfinite(C)) or np.any(C < 0) or np.any(C > 1):
        raise ValueError(f"connection probabilities c must lie in [0, 1], got {C.tolist()}")
    seed = _check_seed(seed)
    spec = dict(generator="distance", pos_pre=P, pos_post=Q, lam=float(lam), c=C, weight=weight,
                seed=seed, pre_groups=gp, post_groups=gq, delay=delay, channel=channel,
                autapses=autapses)
    rng = np.random.default_rng(seed)
    same = not autapses and n_pre == n_post
    rows = max(1, _CHUNK // max(n_post, 1))
    pres, posts = [], []
    for r0 in range(0, n_pre, rows):
        r1 = min(n_pre, r0 + rows)
        d2 = ((P[r0:r1, None, :] - Q[None, :, :]) ** 2).sum(-1)
        prob = C[gp[r0:r1, None], gq[None, :]] * np.exp(-d2 / lam ** 2)
        mask = rng.random((r1 - r0, n_post)) < prob
        if same:
            k = np.arange(r0, r1)
            mask[k - r0, k] = False
        a, b = np.nonzero(mask)
        pres.append(a + r0)
        posts.append(b)
    return _assemble(pres, posts, n_pre, n_post, weight, delay, channel, rng, spec)


_GENERATORS: dict[str, Callable[..., Connectivity]] = {
    "random": random_connectivity, "distance": distance_connectivity,
}
