"""Error-modulated three-factor learning of a readout from an Izhikevich reservoir (secondary.md §13).

A small form of the "what and when" prediction setting of Yamada & Chao (arXiv 2510.14382):

- reservoir: 200 recurrent Izhikevich neurons, 160 excitatory with parameters drawn around
  regular spiking and 40 inhibitory around fast spiking, random sparse recurrent weights and
  noisy background current (the heterogeneous network of Izhikevich, 2003, scaled to 200
  neurons), started at rest and run 50 ms into its spontaneous activity (~10 Hz) before the cue;
- task: each trial starts with one of 4 cues (a 5 ms pulse into the cue's 20 excitatory
  neurons). After cue k, an outcome arrives at latency L with probability p_k =
  0.25, 0.5, 0.75, 1.0; the readout's target is a Gaussian bump (sd 4 ms) at L when the outcome
  occurs, 0 otherwise. The best prediction is thus p_k x bump: amplitude proportional to the
  outcome probability, peaking at the right time;
- rule: a linear readout ``y = w r`` of the reservoir's filtered spike traces r_j (tau 20 ms)
  learns online, every step, by ``dw_j = eta M(t) e(t) r_j(t)`` with e = target - y the
  prediction error and M(t) a gate open only in the task window after the cue: the
  error-modulated, gated three-factor rule, as ``axonal.learning.ThreeFactor(tau_eligibility=0)``
  with the error as the postsynaptic factor and the gate as the modulator.

Measured on held-out trials: the normalised error (MSE / mean square of the target; 1 for the
untrained readout w = 0), the same for the best linear readout of those traces (ridge
regression, an upper bound), the readout peak time error |t_peak - L| and the correlation of
the peak amplitude with p_k. Then L switches from 30 to 50 ms and learning simply continues
(no reset): the timing error right after the switch and after re-adaptation.

    python -m experiments.izhikevich_three_factor [--seeds 0 1 2] [--out results.json]
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from axonal.learning import ThreeFactor
from axonal.neurons.izhikevich import Izhikevich, IzhikevichState
from axonal.neurons.lif import Recurrent, RecurrentState

N_E, N_I, N_CUES, CUE_SIZE = 160, 40, 4, 20
P_OUTCOME = torch.tensor([0.25, 0.5, 0.75, 1.0])
WARM, TRIAL, CUE_LEN, GATE_DELAY, TAU_TRACE = 50, 80, 5, 10, 20.0
T = WARM + TRIAL                      # steps of 1 ms; the cue starts at WARM
GATE_START = WARM + GATE_DELAY        # the gate opens 10 ms after the cue onset
BIAS_SPIKE = 1.0 / TAU_TRACE          # a constant input channel whose trace is 1: the readout bias


def reservoir(seed: int) -> tuple[Recurrent, torch.Tensor]:
    """The heterogeneous Izhikevich reservoir and the cue -> neuron input map ``[N_CUES, N]``."""
    g = torch.Generator().manual_seed(seed)
    re, ri = torch.rand(N_E, generator=g), torch.rand(N_I, generator=g)
    a = torch.cat([torch.full((N_E,), 0.02), 0.02 + 0.08 * ri])
    b = torch.cat([torch.full((N_E,), 0.2), 0.25 - 0.05 * ri])
    c = torch.cat([-65 + 15 * re ** 2, torch.full((N_I,), -65.0)])
    d = torch.cat([8 - 6 * re ** 2, torch.full((N_I,), 2.0)])
    n = N_E + N_I
    res = Recurrent(Izhikevich(n, a=a, b=b, c=c, d=d, backend="scan"))
    # Izhikevich (2003): S = [0.5 rand (from E), -rand (from I)] among 1000 neurons; here 200
    # neurons, 50% connected, weights x2.5 (half the 1000-neuron network's mean drive, which
    # with 200 neurons throws the network into population bursts)
    w = torch.cat([1.25 * torch.rand(n, N_E, generator=g), -2.5 * torch.rand(n, N_I, generator=g)], 1)
    w = w * (torch.rand(n, n, generator=g) < 0.5) * 2
    with torch.no_grad():
        res.weight.copy_(w)
    cue_map = torch.zeros(N_CUES, n)
    perm = torch.randperm(N_E, generator=g)
    for k in range(N_CUES):
        cue_map[k, perm[k * CUE_SIZE:(k + 1) * CUE_SIZE]] = 1.0
    return res, cue_map


def trials(res, cue_map, batch: int, latency: int, g: torch.Generator):
    """A batch of trials: presynaptic spikes ``[T, B, N + 1]`` (the reservoir and the bias
    channel), targets ``[T, B]``, cue ids ``[B]``."""
    n = N_E + N_I
    cue = torch.randint(0, N_CUES, (batch,), generator=g)
    occurs = (torch.rand(batch, generator=g) < P_OUTCOME[cue]).float()
    noise_sd = torch.cat([torch.full((N_E,), 6.0), torch.full((N_I,), 2.0)])    # thalamic noise
    x = noise_sd * torch.randn(T, batch, n, generator=g)
    x[WARM:WARM + CUE_LEN] += 20.0 * cue_map[cue]
    b = res.neuron.params().b
    v0 = torch.full((batch, n), -65.0)
    state = RecurrentState(IzhikevichState(v0, v0 * b), torch.zeros(batch, n))    # at rest
    with torch.no_grad():
        spikes, _ = res(x, state)
    spikes = torch.cat([spikes, torch.full((T, batch, 1), BIAS_SPIKE)], 2)
    t = torch.arange(T, dtype=torch.float32)[:, None]
    target = torch.exp(-0.5 * ((t - WARM - latency) / 4.0) ** 2) * occurs[None, :]
    return spikes, target, cue


def gate() -> torch.Tensor:
    """M(t): open (1) in the task window from 10 ms after the cue onset, closed (0) before."""
    return (torch.arange(T) >= GATE_START).float()


def filtered(spikes: torch.Tensor, tau: float = TAU_TRACE) -> torch.Tensor:
    """Presynaptic traces r(t) = e^{-1/tau} r(t-1) + s(t), the recursion ThreeFactor uses."""
    decay, r, out = math.exp(-1.0 / tau), torch.zeros_like(spikes[0]), []
    for s in spikes.unbind(0):
        r = decay * r + s
        out.append(r)
    return torch.stack(out)


def train_readout(w, rule, spikes, target, m):
    """One batch of online learning: every step y = w r, e = target - y, dw = lr M e r."""
    state = None
    for t, s_t in enumerate(spikes.unbind(0)):
        r_t = rule.initial_state(w, s_t.shape[0]).pre_trace if state is None else state.pre_trace
        r_t = r_t * math.exp(-rule.dt / rule.tau_pre) + s_t        # this step's trace, as rule.step makes it
        err = target[t][:, None] - r_t @ w.T                         # [B, 1]
        dw, state = rule.step(s_t, err, state, w, m[t])
        rule.apply(w, dw)


def evaluate(w, spikes, target, cue, latency):
    r = filtered(spikes)
    y = (r @ w.T)[..., 0]                                            # [T, B]
    window = slice(GATE_START, None)
    nmse = float(((y - target)[window] ** 2).mean() / (target[window] ** 2).mean())
    mean_y = torch.stack([y[:, cue == k].mean(1) for k in range(N_CUES)], 1)     # [T, cues]
    peak_t = mean_y[window].argmax(0) + GATE_START - WARM
    amp = mean_y[window].max(0).values
    a = amp.numpy()
    corr = float(np.corrcoef(a, P_OUTCOME.numpy())[0, 1]) if a.std() > 0 else None   # None: w = 0
    return dict(nmse=nmse, timing_error_ms=float((peak_t - latency).abs().float().mean()),
                amplitude_probability_corr=corr, amplitudes=[round(float(a), 3) for a in amp])


def ridge_nmse(spikes_tr, target_tr, spikes_te, target_te, lam=1.0):
    window = slice(GATE_START, None)
    r_tr = filtered(spikes_tr)[window].reshape(-1, spikes_tr.shape[2]).double()
    r_te = filtered(spikes_te)[window].reshape(-1, spikes_te.shape[2]).double()
    y_tr, y_te = target_tr[window].reshape(-1).double(), target_te[window].reshape(-1).double()
    w = torch.linalg.solve(r_tr.T @ r_tr + lam * torch.eye(r_tr.shape[1], dtype=torch.float64), r_tr.T @ y_tr)
    return float(((r_te @ w - y_te) ** 2).mean() / (y_te ** 2).mean())


def run(seed: int, batches: int = 40, batch: int = 16, switch_batches: int = 40, n_test: int = 200,
        lr: float = 1e-3, latencies=(30, 50)) -> dict:
    torch.manual_seed(seed)
    res, cue_map = reservoir(seed)
    g = torch.Generator().manual_seed(1000 + seed)
    rule = ThreeFactor(lr=lr, tau_pre=TAU_TRACE, tau_eligibility=0.0, reduce="mean")
    w = torch.zeros(1, N_E + N_I + 1)
    m = gate()
    l1, l2 = latencies
    test1 = trials(res, cue_map, n_test, l1, g)
    train_pool = [trials(res, cue_map, batch, l1, g) for _ in range(batches)]
    before = evaluate(w, *test1, l1)
    for spikes, target, _ in train_pool:
        train_readout(w, rule, spikes, target, m)
    after = evaluate(w, *test1, l1)
    sp_tr = torch.cat([p[0] for p in train_pool], 1)
    tg_tr = torch.cat([p[1] for p in train_pool], 1)
    ridge = ridge_nmse(sp_tr, tg_tr, test1[0], test1[1])
    # the outcome now comes later; learning continues online, nothing is reset
    test2 = trials(res, cue_map, n_test, l2, g)
    at_switch = evaluate(w, *test2, l2)
    for _ in range(switch_batches):
        spikes, target, _ = trials(res, cue_map, batch, l2, g)
        train_readout(w, rule, spikes, target, m)
    readapted = evaluate(w, *test2, l2)
    rate = float(test1[0][:WARM, :, :-1].mean()) * 1000.0      # spontaneous, before the cue
    return dict(seed=seed, reservoir_rate_hz=round(rate, 1), before=before, after=after, ridge_nmse=ridge,
                at_switch=at_switch, readapted=readapted, trials_per_phase=batches * batch)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--batches", type=int, default=40, help="training batches of 16 trials per phase")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for seed in args.seeds:
        t0 = time.time()
        row = run(seed, batches=args.batches, switch_batches=args.batches)
        row["seconds"] = round(time.time() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = [("before", "nmse"), ("after", "nmse"), ("ridge_nmse", None), ("after", "timing_error_ms"),
            ("after", "amplitude_probability_corr"), ("at_switch", "timing_error_ms"),
            ("at_switch", "nmse"), ("readapted", "timing_error_ms"), ("readapted", "nmse"),
            ("readapted", "amplitude_probability_corr")]
    summary = {}
    for a, b in keys:
        v = np.array([r[a] if b is None else r[a][b] for r in rows], dtype=float)
        name = a if b is None else f"{a}/{b}"
        summary[name] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
        print(f"{name:<40} {v.mean():7.3f} +- {summary[name]['std']:.3f}")
    result = {"experiment": "izhikevich_three_factor", "seeds": args.seeds, "runs": rows, "summary": summary,
              "torch": torch.__version__}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
