"""Character-level language-model training with truncated BPTT, evaluation in bits per character,
and sampling (``axonal generate``).

Why not :class:`axonal.train.Trainer`: that loop trains classifiers on shuffled, independent
samples (a fresh state per batch, scores ``[B, K]``, accuracy). A language model here reads one
long text as ``B`` contiguous rows, carries (and detaches) its state from one window to the next,
and is judged by bits per character: different batching, state handling and metric, so it has
this small loop of its own. It reuses the checkpoint format (:mod:`axonal.train.checkpoint`:
safetensors + JSON, atomic, hashed) and the provenance record.

``train_language_model(LanguageRunConfig(model="egru", train_chars=300_000), run_dir)`` writes::

    config.json          the configuration
    checkpoints/         last.json + weights (axonal.train.checkpoint)
    results.json         test bits per character, parameters, SynOps / energy per token, activity
                         sparsity, training tokens per second, a generated sample, corpus summary,
                         seed, versions and git commit

The token budget is ``train_chars`` characters of the training split, read once in order (one
"epoch" of that prefix, ``B`` rows x ``bptt`` windows); the test split is scored over its first
``eval_chars`` characters, streamed the same way with the state carried.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.nn import functional as F

from ..data import text
from ..models.sequence import build_language_model, count_operations, detach_state
from ..provenance import environment
from . import checkpoint as ckpt

__all__ = ["LanguageRunConfig", "train_language_model", "evaluate_bpc", "load_language_run", "generate"]


@dataclass
class LanguageRunConfig:
    model: str = "lstm"
    model_options: dict = field(default_factory=dict)
    seed: int = 0
    batch_size: int = 8
    bptt: int = 64
    lr: float = 5e-3
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    train_chars: int = 200_000
    eval_chars: int = 50_000
    eval_batch: int = 8
    threads: int | None = 1
    sample_prompt: str = "def "
    sample_tokens: int = 200

    def __post_init__(self):
        for name in ("batch_size", "bptt", "train_chars", "eval_chars", "eval_batch", "sample_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"LanguageRunConfig.{name} must be a positive int, got {v!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"LanguageRunConfig.lr must be > 0, got {self.lr!r}")


def _bits(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum") / math.log(2)


@torch.no_grad()
def evaluate_bpc(model, ids: torch.Tensor, batch_size: int = 8, bptt: int = 64, max_chars: int | None = None) -> float:
    """Bits per character of ``model`` on the id stream (state carried across windows)."""
    was = model.training
    model.eval()
    total, n, state = 0.0, 0, None
    try:
        for x, y in text.stream_batches(ids, batch_size, bptt, max_chars):
            logits, state = model(x, state)
            total += float(_bits(logits, y))
            n += y.numel()
    finally:
        model.train(was)
    return total / n


def train_language_model(config: LanguageRunConfig, run_dir: str | Path | None = None, *, quiet: bool = True) -> dict:
    """Train, test and (with ``run_dir``) save one language model; returns the results dict."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    corpus = text.load_corpus()
    model = build_language_model(config.model, len(text.VOCAB), **config.model_options)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    n_win = text.n_windows(corpus.train, config.batch_size, config.bptt, config.train_chars)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=n_win, pct_start=0.1)
    state, tokens, curve = None, 0, []
    start = time.perf_counter()
    for i, (x, y) in enumerate(text.stream_batches(corpus.train, config.batch_size, config.bptt, config.train_chars)):
        logits, state = model(x, state)
        state = detach_state(state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        sched.step()
        tokens += y.numel()
        if i % max(1, n_win // 20) == 0 or i == n_win - 1:
            curve.append((tokens, float(loss.detach()) / math.log(2)))
            if not quiet:
                print(f"{config.model} seed {config.seed}: {tokens:,} chars, train bpc {curve[-1][1]:.3f}", flush=True)
    train_s = time.perf_counter() - start
    test_bpc = evaluate_bpc(model, corpus.test, config.eval_batch, config.bptt, config.eval_chars)
    # operations and activity on a test window, with the state warmed up on the windows before it
    windows = text.stream_batches(corpus.test, config.eval_batch, config.bptt, config.eval_chars)
    model.eval()
    with torch.no_grad():
        s = None
        for _ in range(2):
            x, _y = next(windows)
            _, s = model(x, s)
        cost = count_operations(model, next(windows)[0], s)
    sample = generate(model, config.sample_prompt, config.sample_tokens, seed=config.seed)
    results = {
        "model": config.model, "seed": config.seed, "test_bpc": test_bpc,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_tokens": tokens, "train_seconds": train_s, "train_tokens_per_s": tokens / train_s,
        "spiking": bool(model.spiking), "cost_per_token": cost, "train_curve_bpc": curve,
        "sample": sample, "config": asdict(config),
        "corpus": {k: v for k, v in text.corpus_summary().items() if k not in ("test_files", "val_files")},
        "environment": environment(),
    }
    if run_dir is not None:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt.write_json(run_dir / "config.json", asdict(config))
        ckpt.save_checkpoint(run_dir / "checkpoints", "last", model=model, epoch=1,
                             meta={"config": asdict(config), "kind": "language_model"})
        ckpt.write_json(run_dir / "results.json", results)
    return results


def load_language_run(run_dir: str | Path):
    """The trained model of a run folder written by :func:`train_language_model` (eval mode)."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no config.json: not a language-model run folder "
                                "(train one with axonal.train.language.train_language_model)")
    try:
        config = LanguageRunConfig(**json.loads(path.read_text()))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a valid language-model configuration: {exc}") from None
    record = ckpt.load_checkpoint(run_dir / "checkpoints" / "last.json")
    model = build_language_model(config.model, len(text.VOCAB), **config.model_options)
    ckpt.restore(record, model, rng=False)
    return model.eval(), config


@torch.no_grad()
def generate(model, prompt: str, tokens: int = 200, temperature: float = 0.8, seed: int = 0) -> str:
    """Sample ``tokens`` characters after ``prompt`` (state carried one character at a time; the
    window-context transformer is re-run on its last ``max_len`` characters)."""
    if not prompt:
        raise ValueError("generate() needs a non-empty prompt")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    was = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    ids = text.encode(prompt)
    stateless = hasattr(model, "max_len")
    out = ids.tolist()
    try:
        if stateless:
            for _ in range(tokens):
                ctx = torch.tensor(out[-model.max_len:]).view(-1, 1)
                logits, _ = model(ctx)
                p = torch.softmax(logits[-1, 0] / temperature, -1)
                out.append(int(torch.multinomial(p, 1, generator=g)))
        else:
            logits, state = model(ids.view(-1, 1))
            for _ in range(tokens):
                p = torch.softmax(logits[-1, 0] / temperature, -1)
                nxt = int(torch.multinomial(p, 1, generator=g))
                out.append(nxt)
                logits, state = model(torch.tensor([[nxt]]), state)
    finally:
        model.train(was)
    return text.decode(torch.tensor(out))
