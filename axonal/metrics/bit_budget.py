"""Bit budget: weight bits x activation bits x time steps per synaptic operation.

Shen et al., "Is conventional SNN really efficient? A perspective from network quantization",
CVPR 2024, treat an SNN run for T steps with s-bit spikes as a temporally quantized network:
each synaptic connection costs ``B = b_w x b_s x T`` bit operations (a binary-spike SNN:
``b_w x 1 x T``), against ``b_w x b_a x 1`` for a quantized ANN. At equal bit budget, bits spent
on weight or activation precision may buy more accuracy than bits spent on time steps.

``bit_budget(report, weight_bits=..., activation_bits=...)`` reads a ``MonitorReport``
(``SpikeMonitor.report()``) and returns, per connection layer and in total,

- ``per_op``: ``b_w x b_in x T`` (``b_in`` = 1 for a layer whose input was binary spikes,
  ``activation_bits`` otherwise; T = the report's steps per sample);
- ``dense_bit_ops``: the layer's dense operations per step x ``b_w x b_in x T`` (the paper's
  budget of the whole layer, zeros included), per sample;
- ``event_bit_ops``: the SynOps actually performed x ``b_w x b_in`` (zero inputs skipped).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .report import MonitorReport

__all__ = ["LayerBitBudget", "BitBudget", "bit_budget"]


@dataclass
class LayerBitBudget:
    name: str
    kind: str
    input_bits: int
    per_op: float
    dense_bit_ops: float
    event_bit_ops: float


@dataclass
class BitBudget:
    """Bit budget per sample of every connection layer; ``per_op`` is ``b_w x b_s x T``."""

    weight_bits: int
    activation_bits: int
    spike_bits: int
    steps: float
    layers: list[LayerBitBudget] = field(default_factory=list)

    @property
    def per_op(self) -> float:
        """``b_w x b_s x T`` with the spike bits (the paper's B for a spiking network)."""
        return self.weight_bits * self.spike_bits * self.steps

    @property
    def dense_bit_ops(self) -> float:
        return sum(l.dense_bit_ops for l in self.layers)

    @property
    def event_bit_ops(self) -> float:
        return sum(l.event_bit_ops for l in self.layers)

    def to_dict(self) -> dict:
        return {"weight_bits": self.weight_bits, "activation_bits": self.activation_bits,
                "spike_bits": self.spike_bits, "steps": self.steps, "per_op": self.per_op,
                "dense_bit_ops": self.dense_bit_ops, "event_bit_ops": self.event_bit_ops, "per": "sample",
                "layers": [asdict(l) for l in self.layers]}


def bit_budget(report: MonitorReport, *, weight_bits: int = 32, activation_bits: int = 32,
               spike_bits: int = 1) -> BitBudget:
    """Bit budget of the connection layers in ``report`` (see the module docstring).

    A layer's input counts as spikes (``spike_bits``) when every operation it performed was an
    accumulate (binary input), else as ``activation_bits``.
    """
    if not isinstance(report, MonitorReport):
        raise TypeError(f"bit_budget() needs a MonitorReport (SpikeMonitor.report()), got {type(report).__name__}")
    for name, v in (("weight_bits", weight_bits), ("activation_bits", activation_bits), ("spike_bits", spike_bits)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    steps = report.steps
    out = BitBudget(weight_bits, activation_bits, spike_bits, steps)
    for s in report.synapses:
        if s.nested:
            continue
        b_in = spike_bits if (s.macs == 0 and s.acs > 0) else activation_bits
        out.layers.append(LayerBitBudget(
            name=s.name, kind=s.kind, input_bits=b_in, per_op=weight_bits * b_in * steps,
            # dense_macs already sums over the T steps: x b_w x b_in is (ops per step) x b_w x b_in x T
            dense_bit_ops=s.dense_macs * weight_bits * b_in, event_bit_ops=s.synops * weight_bits * b_in))
    return out
