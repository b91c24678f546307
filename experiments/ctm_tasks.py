"""Continuous Thought Machine on its own CPU-sized tasks: cumulative parity and small mazes.

Parity (the CTM repository's task): ``L`` values in {-1, +1}, the answer at every position is
the parity of the ``-1`` s so far. The CTM sees the whole sequence as ``L`` input tokens
(value + one-hot position) through its attention and answers all ``L`` positions at every tick;
trained with the certainty tick loss, scored at the most-certain tick. Beside it an LSTM reads the
sequence one value per step and answers at each step (a running XOR, the easy way round for a
recurrent net). Reported: per-position accuracy and whole-sequence accuracy on 1000 fresh test
sequences, for L in ``--lengths``.

Mazes: 4 x 4-cell perfect mazes (9 x 9 squares), the CTM predicts the first ``--route-len`` moves of
the route from the top-left cell to the goal; success = every move right.

    python -m experiments.ctm_tasks --seeds 0 --out experiments/results/ctm_tasks.json
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from axonal.data.reasoning import maze_batch, parity_batch
from axonal.models.sequence.ctm import ContinuousThoughtMachine, certainty_tick_loss
from axonal.provenance import environment
from axonal.train.checkpoint import write_json


def _ctm_loss(logits, y, classes):
    """Certainty tick loss over several answers: flatten (batch, answer) into the batch axis."""
    g = ContinuousThoughtMachine.grouped(logits, classes)            # [B, K, A, ticks]
    B, K, A, T = g.shape
    flat = g.permute(0, 2, 1, 3).reshape(B * A, K, T)
    return certainty_tick_loss(flat, y.reshape(-1))


def _ctm_predict(logits, classes):
    g = ContinuousThoughtMachine.grouped(logits, classes)            # [B, K, A, ticks]
    p = F.softmax(g, 1)
    cert = 1 + (p * p.clamp_min(1e-12).log()).sum(1) / np.log(classes)   # [B, A, ticks]
    tick = cert.mean(1).argmax(-1)                                   # one most-certain tick per sample
    return g[torch.arange(len(g)), :, :, tick].argmax(1), tick


def parity_features(x):
    B, L = x.shape
    return torch.cat([x.unsqueeze(-1), torch.eye(L).expand(B, L, L)], -1)


class LSTMParity(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.rnn = nn.LSTM(1, hidden)
        self.out = nn.Linear(hidden, 2)

    def forward(self, x):                       # x [B, L] -> logits [B, 2, L]
        h, _ = self.rnn(x.t().unsqueeze(-1))
        return self.out(h).permute(1, 2, 0)


def run_parity(length, seed, steps, batch, ticks, lr=1e-3):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    test_x, test_y = parity_batch(1000, length, torch.Generator().manual_seed(10_000 + seed))
    out = {}
    ctm = ContinuousThoughtMachine(d_input=1 + length, n_out=2 * length, d_model=32, memory=5, ticks=ticks,
                                   d_attn=32, heads=2, nlm_hidden=8, n_sync_out=32, n_sync_action=16, seed=seed)
    lstm = LSTMParity(64)
    for name, model in (("ctm", ctm), ("lstm", lstm)):
        opt = torch.optim.AdamW(model.parameters(), lr=lr if name == "ctm" else 3e-3)
        t0 = time.perf_counter()
        for _ in range(steps):
            x, y = parity_batch(batch, length, g)
            if name == "ctm":
                loss, _ = _ctm_loss(model(parity_features(x)), y, 2)
            else:
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        with torch.no_grad():
            if name == "ctm":
                pred, tick = _ctm_predict(model(parity_features(test_x)), 2)
                extra = {"mean_most_certain_tick": float(tick.float().mean()), "ticks": ticks}
            else:
                pred, extra = model(test_x).argmax(1), {}
        out[name] = {"position_accuracy": float((pred == test_y).float().mean()),
                     "sequence_accuracy": float((pred == test_y).all(1).float().mean()),
                     "parameters": sum(p.numel() for p in model.parameters()),
                     "train_seconds": time.perf_counter() - t0, **extra}
    return out


def run_maze(seed, steps, batch, ticks, n=4, route_len=6):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    test_x, test_y = maze_batch(500, n, route_len, np.random.default_rng(10_000 + seed))
    ctm = ContinuousThoughtMachine(d_input=5, n_out=5 * route_len, d_model=48, memory=5, ticks=ticks, d_attn=32,
                                   heads=2, nlm_hidden=8, n_sync_out=48, n_sync_action=16, seed=seed)
    opt = torch.optim.AdamW(ctm.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(steps):
        x, y = maze_batch(batch, n, route_len, rng)
        loss, _ = _ctm_loss(ctm(x), y, 5)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ctm.parameters(), 1.0)
        opt.step()
    with torch.no_grad():
        pred, tick = _ctm_predict(ctm(test_x), 5)
    return {"success_rate": float((pred == test_y).all(1).float().mean()),
            "move_accuracy": float((pred == test_y).float().mean()),
            "first_move_accuracy": float((pred[:, 0] == test_y[:, 0]).float().mean()),
            "mean_most_certain_tick": float(tick.float().mean()), "ticks": ticks, "cells": n,
            "route_len": route_len, "parameters": sum(p.numel() for p in ctm.parameters()),
            "train_seconds": time.perf_counter() - t0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--maze-steps", type=int, default=800)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--ticks", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-3, help="CTM learning rate (the LSTM uses 3e-3)")
    ap.add_argument("--no-maze", action="store_true")
    ap.add_argument("--out", default="experiments/results/ctm_tasks.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    res = {"parity": [], "maze": [], "settings": vars(args)}
    for seed in args.seeds:
        for L in args.lengths:
            r = run_parity(L, seed, args.steps, args.batch, args.ticks, args.lr)
            res["parity"].append({"length": L, "seed": seed, **r})
            print(f"parity L={L} seed {seed}: CTM {r['ctm']['position_accuracy']:.3f} / "
                  f"{r['ctm']['sequence_accuracy']:.3f}, LSTM {r['lstm']['position_accuracy']:.3f} / "
                  f"{r['lstm']['sequence_accuracy']:.3f}", flush=True)
            res["environment"] = environment()
            write_json(Path(args.out), res)
        if args.no_maze:
            continue
        m = run_maze(seed, args.maze_steps, args.batch, args.ticks)
        res["maze"].append({"seed": seed, **m})
        print(f"maze seed {seed}: success {m['success_rate']:.3f}, moves {m['move_accuracy']:.3f}", flush=True)
        write_json(Path(args.out), res)
    return res


if __name__ == "__main__":
    main()
