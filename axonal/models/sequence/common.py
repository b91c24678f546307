"""What every language model of :mod:`axonal.models.sequence` shares.

A language model maps character ids ``x [T, B]`` (int64) and a state to next-character logits
``[T, B, V]`` and the state after the last step: ``forward(x, state=None) -> (logits, state)``.
Passing the state back in continues the text (streaming, truncated BPTT, generation);
``detach_state`` cuts the graph between windows.

Activity: spiking / event layers call ``self.record(name, tensor)`` on their outputs; when
``self.recording`` is on, the fraction of nonzero entries is kept in ``self.activity`` (name ->
list of fractions), from which :func:`activity_sparsity` is ``1 - mean nonzero fraction`` over the
recorded event tensors (the sparsity of the signals the model communicates; dense models record
nothing and report ``None``).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["LanguageModel", "detach_state", "activity_sparsity"]


def detach_state(state):
    """The same nested tuple / list / NamedTuple of tensors, detached from the graph."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    return state


class LanguageModel(nn.Module):
    """Base class: ``vocab_size``, ``record`` / ``activity``, ``check_input``."""

    #: whether the model communicates with spikes / events (for the results table)
    spiking: bool = False

    def __init__(self, vocab_size: int):
        super().__init__()
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"vocab_size must be an int >= 2, got {vocab_size!r}")
        self.vocab_size = vocab_size
        self.recording = False
        self.activity: dict[str, list[float]] = {}

    def record(self, name: str, x: torch.Tensor) -> None:
        if self.recording:
            self.activity.setdefault(name, []).append(float((x.detach() != 0).float().mean()))

    def check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.dtype != torch.int64:
            got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__} needs character ids x [T, B] int64, got {got}")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.vocab_size):
            raise ValueError(f"{type(self).__name__}: ids must lie in 0..{self.vocab_size - 1}")


def activity_sparsity(model: LanguageModel) -> float | None:
    """``1 - mean nonzero fraction`` of everything ``model`` recorded (None if nothing was)."""
    vals = [v for vs in model.activity.values() for v in vs]
    return 1.0 - sum(vals) / len(vals) if vals else None
