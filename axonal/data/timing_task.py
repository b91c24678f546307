"""A procedurally generated task that only synaptic delays (or long memory) can solve.

The delayed-coincidence task of the DCLS-Delays reproduction (Hammouamri, Khalfaoui-Hassani &
Masquelier, ICLR 2024, arXiv 2306.17670; offline stand-in for SHD): ``n_channels`` input
channels, ``seq_len`` steps, ``n_classes`` classes. Class ``c`` is a fixed vector of offsets
``o_c[i]`` in ``0..max_offset``, one per channel, drawn from slots ``min_spacing`` apart and
distinct within a class where possible (by default the 8 channels fire in a class-specific
order on the slots 0, 3, ..., 21). A
sample of class ``c`` emits exactly one spike on *every* channel ``i`` at ``t0 + o_c[i] + j``
with a random global start ``t0`` in ``0..max_start`` and a per-spike jitter ``j`` in
``-jitter..jitter``; each of these spikes is dropped with probability ``drop`` and Bernoulli
background noise is added at ``noise_rate`` per step and channel.

Every channel fires once per sample in every class, so spike counts per channel carry no class
information by construction (a rate code cannot solve the task; :func:`channel_count_table`
lets a test check that), and with offsets at least ``2 * jitter + 1`` apart no two signal
spikes of a sample coincide, so a network without memory or delays sees one channel at a time
and stays near chance. (The reproduction's spec has 20 channels with 6 class-specific channels
each; that leaks the class through which channels fire, and 20 offsets in 0..24 under +-1
jitter produce class-specific coincidences a delay-free network can read. Defaults here avoid
both.) A
neuron whose synaptic delays are ``D - o_c[i]`` receives all of class ``c``'s spikes at the same
moment: the coincidence detector that delay learning should find.

Everything is seeded: ``pattern_seed`` fixes the class patterns (shared by the train and test
splits), ``seed`` the samples.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .core import SequenceDataset

__all__ = ["TimingTaskConfig", "timing_task_patterns", "timing_task", "timing_task_splits",
           "channel_count_table", "timing_task_datasets"]


@dataclass(frozen=True)
class TimingTaskConfig:
    """Sizes and noise of the timing task (T=100, 10 classes, offsets 0..24 as in the
    reproduction spec; 8 channels that all fire, offsets 3 steps apart: see the module docstring)."""

    n_channels: int = 8
    n_classes: int = 10
    seq_len: int = 100
    max_offset: int = 24
    max_start: int = 60
    jitter: int = 1
    drop: float = 0.1
    noise_rate: float = 0.02
    min_spacing: int = 3

    def __post_init__(self):
        for name in ("n_channels", "n_classes", "seq_len"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"TimingTaskConfig.{name} must be a positive int, got {v!r}")
        if self.n_classes < 2:
            raise ValueError("TimingTaskConfig.n_classes must be >= 2")
        if not isinstance(self.min_spacing, int) or self.min_spacing < 1:
            raise ValueError(f"TimingTaskConfig.min_spacing must be an int >= 1, got {self.min_spacing!r}")
        for name in ("max_offset", "max_start", "jitter"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"TimingTaskConfig.{name} must be an int >= 0, got {v!r}")
        if self.max_start + self.max_offset + self.jitter >= self.seq_len:
            raise ValueError(
                f"TimingTaskConfig: max_start + max_offset + jitter = "
                f"{self.max_start + self.max_offset + self.jitter} must be < seq_len = {self.seq_len}; "
                "lengthen seq_len or shorten the pattern"
            )
        if not 0 <= self.drop < 1:
            raise ValueError(f"TimingTaskConfig.drop must lie in [0, 1), got {self.drop}")
        if not 0 <= self.noise_rate < 1:
            raise ValueError(f"TimingTaskConfig.noise_rate must lie in [0, 1), got {self.noise_rate}")


def timing_task_patterns(config: TimingTaskConfig = TimingTaskConfig(), pattern_seed: int = 0
                         ) -> torch.Tensor:
    """The class patterns: int64 offsets ``[n_classes, n_channels]`` in ``0..max_offset``.

    Offsets are drawn from the slots ``0, s, 2s, ... <= max_offset`` (``s = min_spacing``),
    distinct within a class when there are enough slots, and no two classes share a pattern.
    """
    g = torch.Generator().manual_seed(int(pattern_seed))
    slots = torch.arange(0, config.max_offset + 1, config.min_spacing)
    n_values = len(slots)
    patterns: list[torch.Tensor] = []
    seen: set[tuple[int, ...]] = set()
    for _ in range(1000 * config.n_classes):
        if config.n_channels <= n_values:
            p = slots[torch.randperm(n_values, generator=g)[: config.n_channels]]
        else:
            p = slots[torch.randint(0, n_values, (config.n_channels,), generator=g)]
        key = tuple(p.tolist())
        if key not in seen:
            seen.add(key)
            patterns.append(p)
        if len(patterns) == config.n_classes:
            return torch.stack(patterns).long()
    raise ValueError("TimingTaskConfig: too few distinct patterns for n_classes; raise max_offset")


def timing_task(n_samples: int, config: TimingTaskConfig = TimingTaskConfig(), *, seed: int = 0,
                pattern_seed: int = 0, patterns: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_samples`` samples: ``(x [T, n_samples, n_channels] float32 of 0/1, y [n_samples] int64)``.

    Classes are balanced (round-robin, then shuffled). ``patterns`` overrides the seeded ones.
    """
    if not isinstance(n_samples, int) or n_samples <= 0:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    if patterns is None:
        patterns = timing_task_patterns(config, pattern_seed)
    if tuple(patterns.shape) != (config.n_classes, config.n_channels):
        raise ValueError(f"patterns have shape {tuple(patterns.shape)}, expected "
                         f"[n_classes, n_channels] = {[config.n_classes, config.n_channels]}")
    g = torch.Generator().manual_seed(int(seed))
    y = torch.arange(n_samples) % config.n_classes
    y = y[torch.randperm(n_samples, generator=g)]
    t0 = torch.randint(0, config.max_start + 1, (n_samples, 1), generator=g)
    jit = torch.randint(-config.jitter, config.jitter + 1, (n_samples, config.n_channels), generator=g)
    times = (t0 + patterns[y] + jit).clamp(0, config.seq_len - 1)
    keep = torch.rand(n_samples, config.n_channels, generator=g) >= config.drop
    x = (torch.rand(config.seq_len, n_samples, config.n_channels, generator=g)
         < config.noise_rate).float()
    s_idx, c_idx = torch.nonzero(keep, as_tuple=True)
    x[times[s_idx, c_idx], s_idx, c_idx] = 1.0
    return x, y.long()


def timing_task_splits(n_train: int, n_test: int, config: TimingTaskConfig = TimingTaskConfig(),
                       *, seed: int = 0, pattern_seed: int = 0):
    """Train and test sets with the same class patterns and independent samples.

    Returns ``(x_train, y_train, x_test, y_test)``; time-major ``[T, N, C]``.
    """
    patterns = timing_task_patterns(config, pattern_seed)
    xtr, ytr = timing_task(n_train, config, seed=2 * seed + 1, patterns=patterns)
    xte, yte = timing_task(n_test, config, seed=2 * seed + 2, patterns=patterns)
    return xtr, ytr, xte, yte


def channel_count_table(x: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean spike count per (class, channel): ``[n_classes, C]`` (equal rows = no rate code)."""
    counts = x.sum(0)  # [N, C]
    return torch.stack([counts[y == c].mean(0) for c in range(n_classes)])


def config_dict(config: TimingTaskConfig) -> dict:
    return asdict(config)


def timing_task_datasets(n_train: int = 1000, n_test: int = 1000, *, seed: int = 0, pattern_seed: int = 0,
                         **config) -> tuple:
    """``(train, test)`` :class:`axonal.data.core.SequenceDataset` (``x [N, T, C]``) for
    ``load_dataset("timing_task", ...)``; ``config`` are :class:`TimingTaskConfig` fields."""
    known = TimingTaskConfig.__dataclass_fields__
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise TypeError(f"timing_task: unknown option(s) {unknown}; known: {sorted(known)}")
    cfg = TimingTaskConfig(**config)
    xtr, ytr, xte, yte = timing_task_splits(n_train, n_test, cfg, seed=seed, pattern_seed=pattern_seed)
    return SequenceDataset(xtr.transpose(0, 1), ytr), SequenceDataset(xte.transpose(0, 1), yte)
