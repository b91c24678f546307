"""Adversarial attacks through surrogate gradients: FGSM, PGD, PDSG and SDA.

A spiking network's forward pass is a step function; gradient attacks use the surrogate
derivative in its place. Which surrogate the attacker uses matters: the victim's own (white
box), another one (``with_surrogate``: the victim's surrogate is invisible at inference), or
the potential-dependent surrogate of Lun et al., "Towards effective and sparse adversarial
attack on spiking neural networks via breaking invisible surrogate gradients", CVPR 2025 (PDSG:
a Gaussian in ``u - theta`` whose width follows the spread of the recorded membrane potential).

Every attack takes ``model(x) -> scores [B, K]`` on time-major input ``x [T, B, ...]`` (or any
input layout the model accepts: nothing here assumes the time axis except ``sda``'s batching).

- ``fgsm``: one step ``x + eps sign(grad)`` (Goodfellow et al., ICLR 2015);
- ``pgd``: ``steps`` steps of size ``alpha`` (default eps/4, as the PDSG code) from a random
  start in the L-inf ball, projected back after each (Madry et al., ICLR 2018);
- ``with_surrogate(model, surrogate)``: every neuron of ``model`` uses ``surrogate`` in the
  backward pass inside the block (``"pdsg"``: a fresh ``PotentialDependentSurrogate`` per layer);
- ``sda``: sparse dynamic attack on binary inputs (spikes, DVS frames): flips the fewest bits it
  can find, reported as L0 (generation: grow a set of single-bit flips chosen by gradient and
  confirmed by finite differences until the model is fooled; reduction: binary search for the
  shortest prefix of the most useful flips that still fools it).

``success_rate(model, x_adv, y, clean_pred)`` counts successes among samples that were
classified correctly before the attack (the usual convention).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ..neurons.base import NeuronModule
from ..surrogate import Surrogate, get_surrogate

__all__ = ["fgsm", "pgd", "with_surrogate", "PotentialDependentSurrogate", "sda", "SDAResult",
           "success_rate", "margin_loss"]


# ----------------------------------------------------------------------------- surrogates
class PotentialDependentSurrogate(Surrogate):
    """PDSG (Lun et al., CVPR 2025): Heaviside forward, a Gaussian density backward,

        d spike / d x = N(x; mean = sigma / 2, std = sigma),   x = u - theta,

    where ``sigma`` is the standard deviation of the membrane potential seen so far in the
    current sequence, over time steps and batch (and space), separately per feature (neuron of a
    dense layer, channel of a conv layer); ``sigma = 1`` where it is 0. The statistics restart
    with every forward call of the layer (``reset``; ``with_surrogate`` does this with a hook).
    One instance belongs to one layer. ``x`` differs from ``u`` by the threshold, so its spread
    equals the membrane's when the threshold is fixed (with an adaptive threshold it is the
    spread of the distance to threshold). It has no fused kernel: neurons using it run the
    reference scan.
    """

    name = "pdsg"
    code = -1

    def __init__(self):
        object.__setattr__(self, "width", 1.0)
        object.__setattr__(self, "_stats", {})
        self.__post_init__()

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def reset(self) -> None:
        self._stats.clear()

    @staticmethod
    def _dims(x: torch.Tensor) -> tuple[int, ...]:
        return (0,) + tuple(range(2, x.ndim))  # batch and space; features (dim 1) kept

    def sigma(self, x: torch.Tensor) -> torch.Tensor:
        """Update the running statistics with this step's ``x`` and return sigma (per feature)."""
        xd = x.detach().to(torch.float64)
        dims = self._dims(xd) if xd.ndim > 1 else (0,)
        n = math.prod(xd.shape[d] for d in dims)
        s = self._stats
        if not s or s["sum"].shape != xd.sum(dims, keepdim=True).shape:
            s.update(n=0, sum=torch.zeros_like(xd.sum(dims, keepdim=True)),
                     sq=torch.zeros_like(xd.sum(dims, keepdim=True)))
        s["n"] += n
        s["sum"] = s["sum"] + xd.sum(dims, keepdim=True)
        s["sq"] = s["sq"] + (xd * xd).sum(dims, keepdim=True)
        count = s["n"]
        mean = s["sum"] / count
        var = (s["sq"] - count * mean * mean).clamp_min(0) / max(count - 1, 1)  # unbiased, as torch.std
        sigma = var.sqrt()
        sigma = torch.where(sigma == 0, torch.ones_like(sigma), sigma)
        return sigma.to(x.dtype)

    @staticmethod
    def density(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The backward: Gaussian density of mean sigma/2 and std sigma at ``x``."""
        z = (x - 0.5 * sigma) / sigma
        return torch.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("PotentialDependentSurrogate depends on the recorded potentials; use density(x, sigma)")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _PDSGSpike.apply(x, self.sigma(x))


class _PDSGSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, sigma):
        ctx.save_for_backward(x, sigma)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        x, sigma = ctx.saved_tensors
        return grad_out * PotentialDependentSurrogate.density(x, sigma), None


def _neurons_with_surrogate(model: nn.Module) -> list[NeuronModule]:
    return [m for m in model.modules() if isinstance(m, NeuronModule) and hasattr(m._fixed, "surrogate")]


@contextlib.contextmanager
def with_surrogate(model: nn.Module, surrogate: str | Surrogate | Callable[[], Surrogate]):
    """Inside the block every neuron of ``model`` uses ``surrogate`` in its backward pass.

    ``surrogate``: a name of ``axonal.surrogate.SURROGATES``, a ``Surrogate``, ``"pdsg"`` (one
    ``PotentialDependentSurrogate`` per layer, reset at each forward call), or a factory
    called once per layer. The forward pass (Heaviside) is unchanged; the original surrogates are
    restored on exit, also when the block raises. Learned constants are untouched.
    """
    neurons = _neurons_with_surrogate(model)
    if not neurons:
        raise ValueError("with_surrogate: the model has no neuron with a surrogate (axonal NeuronModule)")
    saved = [(m, m._fixed) for m in neurons]
    handles = []
    try:
        for m in neurons:
            if surrogate == "pdsg":
                sg = PotentialDependentSurrogate()
            elif callable(surrogate) and not isinstance(surrogate, Surrogate):
                sg = surrogate()
            else:
                sg = get_surrogate(surrogate)
            if isinstance(sg, PotentialDependentSurrogate):
                handles.append(m.register_forward_pre_hook(lambda mod, args, sg=sg: sg.reset()))
            m._fixed = replace(m._fixed, surrogate=sg)
        _reset_parents(model, neurons, handles)
        yield model
    finally:
        for h in handles:
            h.remove()
        for m, fixed in saved:
            m._fixed = fixed


def _reset_parents(model, neurons, handles) -> None:
    """A neuron run inside a wrapper (``Recurrent`` calls its neuron's step, not the module): reset
    the PDSG statistics when the wrapper starts a forward call too."""
    for parent in model.modules():
        for child in parent.children():
            if child in neurons and not isinstance(parent, nn.ModuleList):
                sg = child._fixed.surrogate
                if isinstance(sg, PotentialDependentSurrogate):
                    handles.append(parent.register_forward_pre_hook(lambda mod, args, sg=sg: sg.reset()))


# ----------------------------------------------------------------------------- L-inf attacks
def _loss_grad(model, x, y, loss_fn) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(model(x), y)
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def _clamp(x, clamp):
    return x if clamp is None else x.clamp(*clamp)


def fgsm(model: Callable, x: torch.Tensor, y: torch.Tensor, eps: float, *,
         loss_fn: Callable = F.cross_entropy, clamp: tuple[float, float] | None = None) -> torch.Tensor:
    """Fast gradient sign method: ``x + eps * sign(d loss / d x)`` (clipped to ``clamp``)."""
    _check_eps(eps)
    grad = _loss_grad(model, x, y, loss_fn)
    return _clamp(x.detach() + eps * grad.sign(), clamp).detach()


def pgd(model: Callable, x: torch.Tensor, y: torch.Tensor, eps: float, *, steps: int = 10,
        alpha: float | None = None, random_start: bool = True, loss_fn: Callable = F.cross_entropy,
        clamp: tuple[float, float] | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent in the L-inf ball of radius ``eps`` around ``x``.

    ``alpha`` (step size) defaults to ``eps / 4``; ``random_start`` begins at a uniform point
    of the ball. The result always satisfies ``|x_adv - x| <= eps`` (and ``clamp``).
    """
    _check_eps(eps)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"pgd: steps must be a positive int, got {steps!r}")
    alpha = eps / 4 if alpha is None else alpha
    x0 = x.detach()
    adv = x0.clone()
    if random_start and eps > 0:
        noise = torch.rand(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device) * 2 - 1
        adv = _clamp(x0 + eps * noise, clamp)
    for _ in range(steps):
        grad = _loss_grad(model, adv, y, loss_fn)
        adv = adv + alpha * grad.sign()
        adv = _clamp(x0 + (adv - x0).clamp(-eps, eps), clamp).detach()
    return adv


def _check_eps(eps) -> None:
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps >= 0 or not math.isfinite(eps):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")


@torch.no_grad()
def success_rate(model: Callable, x_adv: torch.Tensor, y: torch.Tensor, clean_pred: torch.Tensor) -> float:
    """Share of the correctly classified samples (``clean_pred == y``) that ``x_adv`` misleads."""
    ok = clean_pred == y
    if not ok.any():
        return float("nan")
    adv_pred = model(x_adv).argmax(1)
    return float(((adv_pred != y) & ok).sum()) / float(ok.sum())


# ----------------------------------------------------------------------------- SDA
def margin_loss(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Carlini-Wagner margin per sample: ``max(z_y - max_{j != y} z_j, 0)`` (0 once fooled)."""
    true = scores.gather(1, y[:, None])[:, 0]
    other = scores.masked_fill(F.one_hot(y, scores.shape[1]).bool(), float("-inf")).amax(1)
    return (true - other).clamp_min(0)


@dataclass
class SDAResult:
    """``x_adv`` (same shape as the input), per sample: ``success`` and ``l0`` (bits flipped; 0 when
    the attack failed, which returns the sample unchanged), and ``queries`` (forward passes)."""

    x_adv: torch.Tensor
    success: torch.Tensor
    l0: torch.Tensor
    queries: int


def sda(model: Callable, x: torch.Tensor, y: torch.Tensor, *, k_init: int = 10, max_iter: int = 500,
        batch_limit: int = 64, max_l0: int | None = None, batch_dim: int = 1) -> SDAResult:
    """Sparse dynamic attack on binary input ``x`` (values 0/1), one sample at a time.

    Generation, iteration n = 1, 2, ...: the gradient of the margin loss (through the model's
    surrogate) marks the bits whose flip could lower the loss (a 0 with negative gradient, a 1
    with positive); the ``n * k_init`` strongest not yet chosen are each flipped alone and
    evaluated (``batch_limit`` at a time); flips that lower the margin join the chosen set; all
    chosen flips are applied; stop once the model is fooled. Reduction: the chosen flips sorted
    by how much each lowered the margin, binary search for the fewest that still fool the model.
    ``max_l0`` caps the flips (an attack that needs more fails). The input is never changed
    except by flipping bits: ``x_adv`` is binary and differs from ``x`` in ``l0`` positions.
    """
    if not bool(((x == 0) | (x == 1)).all()):
        raise ValueError("sda attacks binary inputs (spikes, DVS frames): every value of x must be 0 or 1")
    if k_init < 1 or max_iter < 1 or batch_limit < 1:
        raise ValueError("sda: k_init, max_iter and batch_limit must be positive")
    xs = x.detach().unbind(batch_dim)
    advs, succ, l0s, queries = [], [], [], 0
    for b, xb in enumerate(xs):
        adv, ok, q = _sda_one(model, xb.unsqueeze(batch_dim), y[b:b + 1], k_init, max_iter, batch_limit,
                              max_l0, batch_dim)
        queries += q
        advs.append(adv.squeeze(batch_dim))
        succ.append(ok)
        l0s.append(int((adv.squeeze(batch_dim) != xb).sum()) if ok else 0)
    return SDAResult(torch.stack(advs, batch_dim), torch.tensor(succ), torch.tensor(l0s), queries)


def _batched_flips(x1: torch.Tensor, flat_idx: torch.Tensor, batch_dim: int) -> torch.Tensor:
    """Copies of the one-sample input ``x1`` stacked on ``batch_dim``, copy i with bit flat_idx[i] flipped."""
    k = len(flat_idx)
    base = x1.movedim(batch_dim, 0).reshape(1, -1).repeat(k, 1)
    rows = torch.arange(k, device=x1.device)
    base[rows, flat_idx] = 1 - base[rows, flat_idx]
    shape = x1.movedim(batch_dim, 0).shape[1:]
    return base.reshape(k, *shape).movedim(0, batch_dim)


def _sda_one(model, x1, y1, k_init, max_iter, batch_limit, max_l0, batch_dim):
    queries = 0
    flat0 = x1.movedim(batch_dim, 0).reshape(-1)
    n_bits = flat0.numel()
    selected = torch.zeros(n_bits, dtype=torch.bool, device=x1.device)
    gain = torch.full((n_bits,), float("inf"), dtype=torch.float64, device=x1.device)  # FD of each chosen flip

    def apply(mask):
        flat = torch.where(mask, 1 - flat0, flat0)
        return flat.reshape(x1.movedim(batch_dim, 0).shape).movedim(0, batch_dim)

    def fooled(xa) -> bool:
        nonlocal queries
        queries += 1
        with torch.no_grad():
            return bool(model(xa).argmax(1)[0] != y1[0])

    adv = x1.detach()
    if fooled(adv):
        return adv, False, queries  # already misclassified: not an attack success
    success = False
    for n in range(1, max_iter + 1):
        xa = adv.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = margin_loss(model(xa), y1).sum()
            (grad,) = torch.autograd.grad(loss, xa)
        queries += 1
        g = grad.movedim(batch_dim, 0).reshape(-1).to(torch.float64)
        cur = apply(selected).movedim(batch_dim, 0).reshape(-1)
        useful = (1 - 2 * cur) * g < 0          # flipping this bit lowers the loss to first order
        score = g.abs() * (useful & ~selected)
        if not bool((score > 0).any()):
            free = ~selected
            if not bool(free.any()):
                break
            score = torch.rand(n_bits, dtype=torch.float64, device=x1.device) * free  # vanished gradient
        k = min(n * k_init, int((score > 0).sum()))
        idx = torch.topk(score, k).indices
        base_loss = float(loss.detach())
        fds = []
        with torch.no_grad():
            for start in range(0, k, batch_limit):
                chunk = idx[start:start + batch_limit]
                batch = _batched_flips(adv, chunk, batch_dim)
                fds.append(margin_loss(model(batch), y1.expand(len(chunk))).to(torch.float64) - base_loss)
                queries += 1
        fd = torch.cat(fds)
        keep = fd <= 0
        gain[idx[keep]] = fd[keep]
        selected[idx[keep]] = True
        adv = apply(selected)
        if fooled(adv):
            success = True
            break
    if not success:
        return x1.detach(), False, queries
    # reduction: keep the fewest most useful flips (most negative FD first) that still fool
    order = torch.argsort(gain.masked_fill(~selected, float("inf")))[: int(selected.sum())]
    lo, hi, best = 1, len(order), len(order)
    while lo <= hi:
        mid = (lo + hi) // 2
        mask = torch.zeros_like(selected)
        mask[order[:mid]] = True
        if fooled(apply(mask)):
            best, hi = mid, mid - 1
        else:
            lo = mid + 1
    if max_l0 is not None and best > max_l0:
        return x1.detach(), False, queries
    mask = torch.zeros_like(selected)
    mask[order[:best]] = True
    final = apply(mask)
    if not fooled(final):  # binary search assumes monotonicity; fall back to every chosen flip
        final = apply(selected)
        if max_l0 is not None and int(selected.sum()) > max_l0:
            return x1.detach(), False, queries
    return final.detach(), True, queries
