"""Keyword names that users of snnTorch, SpikingJelly and Norse bring to a neuron, in one table.

``PEER_NAMES`` maps a peer's keyword to what it means here: an **alias** (the same meaning under
another name, translated silently: ``beta`` -> ``decay``, ``v_threshold`` -> ``threshold``, ...)
or a **hint** (a different meaning, answered with an error that says what to write instead:
SpikingJelly's ``tau`` is ``decay = 1 - 1/tau``, not ``tau_mem``). Any other unknown keyword
gets "did you mean ..." (``difflib``) and the list of valid names. ``docs/coming-from-peers.md``
shows the same table for people.

This module imports nothing from ``axonal``: ``neurons.base`` reads it.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, NamedTuple

__all__ = ["PeerName", "PEER_NAMES", "translate_names"]


class PeerName(NamedTuple):
    peers: str                    # who uses the name
    target: str | None            # the axonal keyword it becomes (None: a hint, never translated)
    note: str                     # what it means here / what to write instead
    convert: Callable[[Any], Any] | None = None  # value conversion (may raise with a hint)


def _surrogate_value(value):
    from ..surrogate import Surrogate  # lazy: keeps this module a leaf at import time

    if isinstance(value, (str, Surrogate)):
        return value
    raise TypeError(
        f"the surrogate must be an axonal surrogate name ('atan', 'fast_sigmoid', 'sigmoid', ...) or "
        f"an axonal.surrogate.Surrogate, got {value!r}; a peer's surrogate function does not carry "
        "over (snnTorch's fast_sigmoid(slope=25) is surrogate=FastSigmoid(width=1/25), "
        "SpikingJelly's ATan(alpha=2) is surrogate=ATan(width=1/2))")


def _reset_from_v_reset(value):
    if value is None:
        return "subtract"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return "zero"
    raise ValueError(
        f"v_reset={value!r}: this neuron's membrane rests and resets at 0, so SpikingJelly's "
        "v_reset=0.0 is reset='zero' and v_reset=None is reset='subtract'; for another reset "
        "potential use RefractoryLIF(v_reset=...)")


PEER_NAMES: dict[str, PeerName] = {
    "beta": PeerName("snnTorch Leaky", "decay", "per-step membrane decay: LIF(decay=beta)"),
    "v_threshold": PeerName("SpikingJelly", "threshold", "firing threshold"),
    "v_th": PeerName("Norse", "threshold", "firing threshold"),
    "reset_mechanism": PeerName("snnTorch", "reset", "'subtract', 'zero' or 'none', as in snnTorch"),
    "spike_grad": PeerName("snnTorch", "surrogate", "surrogate gradient (an axonal surrogate)",
                           _surrogate_value),
    "surrogate_function": PeerName("SpikingJelly", "surrogate", "surrogate gradient (an axonal surrogate)",
                                   _surrogate_value),
    "v_reset": PeerName("SpikingJelly", "reset", "v_reset=0.0 -> reset='zero'; v_reset=None -> "
                        "reset='subtract'", _reset_from_v_reset),
    "tau": PeerName("SpikingJelly LIFNode", None,
                    "SpikingJelly's tau is a per-step decay of 1 - 1/tau: write LIF(decay=1 - 1/tau) "
                    "(with decay_input=True for SpikingJelly's default form); tau_mem here is the "
                    "time constant of exp(-dt/tau_mem)"),
    "tau_mem_inv": PeerName("Norse", None,
                            "Norse's Euler step decays by 1 - dt * tau_mem_inv per step: write "
                            "LIF(decay=1 - dt * tau_mem_inv)"),
    "learn_beta": PeerName("snnTorch", None, "write learn=('tau_mem',) to learn the decay"),
    "learn_threshold": PeerName("snnTorch", None, "write learn=('threshold',)"),
    "init_hidden": PeerName("snnTorch", None,
                            "axonal keeps no hidden state: pass the state explicitly (forward(x, "
                            "state)), or use output='spikes' to chain in torch.nn.Sequential"),
    "step_mode": PeerName("SpikingJelly", None,
                          "axonal always runs the whole sequence [T, B, ...] ('m' mode); for one "
                          "step pass x_t.unsqueeze(0)"),
    "store_v_seq": PeerName("SpikingJelly", None, "use layer.trace(x) (or Sequential.trace) to "
                            "record the membrane over time"),
}


def translate_names(who: str, kwargs: dict[str, Any], accepted: set[str]) -> dict[str, Any]:
    """``kwargs`` with peer aliases renamed to the names in ``accepted``; any keyword neither
    accepted nor an applicable alias raises a TypeError with the peer hint or "did you mean"
    and the valid names."""
    out: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for name, value in kwargs.items():
        if name in accepted:
            target = name
        else:
            peer = PEER_NAMES.get(name)
            if peer is None or peer.target is None or peer.target not in accepted:
                raise TypeError(_unknown(who, name, accepted, peer))
            target = peer.target
            value = peer.convert(value) if peer.convert is not None else value
        if target in out:
            raise TypeError(f"{who}: {target} is given twice (as {given_as[target]!r} and as {name!r}); "
                            "give it once")
        out[target] = value
        given_as[target] = name
    return out


def _unknown(who: str, name: str, accepted: set[str], peer: PeerName | None) -> str:
    valid = ", ".join(sorted(accepted))
    if peer is not None:
        return f"{who} got {name!r} ({peer.peers}): {peer.note}. Valid keywords: {valid}"
    close = difflib.get_close_matches(name, sorted(accepted), n=3, cutoff=0.6)
    guess = f"; did you mean {' or '.join(map(repr, close))}?" if close else "."
    return f"{who} got an unexpected keyword {name!r}{guess} Valid keywords: {valid}"
