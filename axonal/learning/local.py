"""Training with local rules, alone or mixed with gradient descent.

:class:`PlasticLinear` is a layer of synapses ``[out, in]`` feeding a neuron population whose
weight a :class:`~axonal.learning.rule.LocalRule` updates from what the synapse sees (pre
spikes, post spikes or an error, a modulator). During ``forward(x, learn=True)`` the rule's
change is accumulated over the sequence and kept *pending*; ``commit()`` writes it into the
weight (clipped to the rule's bounds). Keeping the change pending lets the same forward pass
also be differentiated: the neuron's intrinsic parameters (or any other layer) can be trained
by surrogate gradients while the weights learn locally (``weight_grad=False``, the default,
keeps gradients off the plastic weight; ``True`` lets both act on it).

:func:`local_train` is the loop: for each batch it runs the model with plasticity on, applies
an optional supervised teacher current and a modulator, takes an optimizer step on an optional
loss, and commits the local changes.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn

from ..network import Sequential, Temporal
from ..neurons.base import NeuronModule, check_sequence
from .rule import LocalRule

__all__ = ["PlasticLinear", "local_train", "plastic_layers"]


class PlasticLinear(Temporal):
    """Synapses + neurons trained by a local rule: ``PlasticLinear(64, 10, LIF(10), STDP())``.

    ``forward(x [T, B, in], state=None, *, learn=False, teacher=None, modulator=None)``
    returns ``(spikes [T, B, out], state)``. ``teacher`` is an extra input current
    (``[B, out]`` held over time or ``[T, B, out]``) that forces the desired neurons to fire
    (supervised STDP). ``modulator`` is the third factor: a scalar or tensor, a tensor with a
    leading time axis ``[T, ...]``, or ``callable(t, post_t) -> tensor``.
    ``post_factor(t, post_t)`` optionally replaces the post spikes in the rule (e.g. by an error).
    """

    def __init__(self, in_features: int, out_features: int, neuron: NeuronModule, rule: LocalRule,
                 init: str | torch.Tensor = "uniform", weight_grad: bool = False,
                 seed: int | None = None):
        super().__init__()
        if neuron.size is not None and tuple(neuron.size) != (out_features,):
            raise ValueError(f"neuron size {neuron.size} must equal (out_features,) = ({out_features},)")
        if not isinstance(rule, LocalRule):
            raise TypeError(f"rule must be a LocalRule (STDP, ThreeFactor, ...), got {type(rule).__name__}")
        self.in_features, self.out_features = in_features, out_features
        self.neuron, self.rule = neuron, rule
        if isinstance(init, torch.Tensor):
            if init.shape != (out_features, in_features):
                raise ValueError(f"init weight must be [{out_features}, {in_features}], got {tuple(init.shape)}")
            w = init.detach().clone().float()
        else:
            g = torch.Generator().manual_seed(0 if seed is None else seed)
            lo = rule.w_min if math.isfinite(rule.w_min) else -1.0 / math.sqrt(in_features)
            hi = rule.w_max if math.isfinite(rule.w_max) else 1.0 / math.sqrt(in_features)
            w = lo + (hi - lo) * torch.rand(out_features, in_features, generator=g)
        self.weight = nn.Parameter(w, requires_grad=weight_grad)
        self.pending: torch.Tensor | None = None
        self.rule_state = None

    def forward(self, x, state=None, *, learn: bool = False, teacher=None, modulator=None,
                post_factor: Callable | None = None):
        check_sequence(x, (self.in_features,), "PlasticLinear")
        t_len, b = x.shape[:2]
        z = x.new_zeros(b, self.out_features)
        if state is None:
            state = self.neuron.initial_state(z)
        params = self.neuron.params()
        if teacher is not None:
            teacher = torch.as_tensor(teacher, dtype=x.dtype, device=x.device)
            if teacher.shape not in ((b, self.out_features), (t_len, b, self.out_features)):
                raise ValueError(f"teacher must be [B, out] or [T, B, out]; got {tuple(teacher.shape)}")
        rule_state = None
        total = torch.zeros_like(self.weight) if learn else None
        outs = []
        step = type(self.neuron).step
        for t, x_t in enumerate(x.unbind(0)):
            cur = x_t @ self.weight.T
            if teacher is not None:
                cur = cur + (teacher[t] if teacher.ndim == 3 else teacher)
            s, state = step(cur, state, params)
            outs.append(s)
            if learn:
                m = modulator(t, s) if callable(modulator) else (
                    modulator[t] if torch.is_tensor(modulator) and modulator.ndim > 0
                    and modulator.shape[0] == t_len else modulator)
                post = s if post_factor is None else post_factor(t, s)
                dw, rule_state = self.rule.step(x_t, post, rule_state, self.weight, m)
                total += dw
        if learn:
            self.pending = total if self.pending is None else self.pending + total
            self.rule_state = rule_state
        return torch.stack(outs), state

    def reinforce(self, modulator) -> None:
        """Add the rule's end-of-trial change (delayed reward x eligibility) to the pending change."""
        dw = self.rule.finish(self.rule_state, self.weight, modulator)
        self.pending = dw if self.pending is None else self.pending + dw

    @torch.no_grad()
    def commit(self) -> None:
        """Write the pending local change into the weight (clipped to the rule's bounds)."""
        if self.pending is not None:
            self.rule.apply(self.weight, self.pending)
        self.pending = None

    def extra_repr(self):
        return f"in={self.in_features}, out={self.out_features}, rule={self.rule}"


def plastic_layers(model: nn.Module) -> list[PlasticLinear]:
    return [m for m in model.modules() if isinstance(m, PlasticLinear)]


def _run(model, x, plastic_kw, learn=True):
    """Forward through a PlasticLinear or a Sequential, passing plasticity options to plastic layers."""
    if isinstance(model, PlasticLinear):
        return model(x, learn=learn, **plastic_kw.get(model, {}))[0]
    if isinstance(model, Sequential):
        from ..network import apply_per_step

        for layer in model.layers:
            if isinstance(layer, PlasticLinear):
                x, _ = layer(x, learn=learn, **plastic_kw.get(layer, {}))
            elif isinstance(layer, Temporal):
                x, _ = layer(x)
            else:
                x = apply_per_step(layer, x)
        return x
    raise TypeError("local_train needs a PlasticLinear or an axonal.Sequential containing PlasticLinear layers")


def local_train(model: nn.Module, batches: Iterable, epochs: int = 1, *,
                teacher: Callable | None = None, modulator: Callable | None = None,
                reward: Callable | None = None, loss_fn: Callable | None = None,
                optimizer: torch.optim.Optimizer | None = None,
                on_epoch: Callable | None = None) -> list[dict]:
    """Train ``model`` with its plastic layers' local rules (and optionally a gradient loss).

    ``batches``: an iterable of ``(x [T, B, in], y)`` (re-iterated each epoch).
    ``teacher(y) -> current [B, out]`` for the *last* plastic layer (supervised STDP).
    ``modulator(y) -> third factor`` for the last plastic layer, per step (three-factor rules).
    ``reward(output, y) -> modulator`` applied at the end of each trial to every plastic layer.
    ``loss_fn(output, y)`` with ``optimizer``: a gradient step on the same forward pass
    (mixing: e.g. intrinsic neuron parameters by backprop, weights by STDP). With a ``teacher``
    the plastic pass's output is the teacher's answer (its loss is trivially small), so the
    loss is taken on a second, *free* pass without teacher and without plasticity instead.
    Returns one dict per epoch (mean loss if any, number of batches).
    """
    layers = plastic_layers(model)
    if not layers:
        raise ValueError("model has no PlasticLinear layer; wrap synapses in PlasticLinear(..., rule)")
    if (loss_fn is None) != (optimizer is None):
        raise ValueError("give loss_fn and optimizer together (or neither for purely local training)")
    history = []
    for epoch in range(epochs):
        losses, n = [], 0
        for x, y in batches:
            kw = {}
            last = {}
            if teacher is not None:
                last["teacher"] = teacher(y)
            if modulator is not None:
                last["modulator"] = modulator(y)
            if last:
                kw[layers[-1]] = last
            free_phase = loss_fn is not None and teacher is not None
            with torch.set_grad_enabled(loss_fn is not None and not free_phase):
                out = _run(model, x, kw)
            if loss_fn is not None:
                loss = loss_fn(_run(model, x, {}, learn=False) if free_phase else out, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
            if reward is not None:
                r = reward(out.detach(), y)
                for layer in layers:
                    layer.reinforce(r)
            for layer in layers:
                layer.commit()
            n += 1
        record = {"epoch": epoch, "batches": n}
        if losses:
            record["loss"] = sum(losses) / len(losses)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history
