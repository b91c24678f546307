"""The procedural timing task: seeded, balanced, one spike per channel, no rate code."""
import pytest
import torch

from axonal.data.timing_task import (
    TimingTaskConfig,
    channel_count_table,
    timing_task,
    timing_task_patterns,
    timing_task_splits,
)


def test_seeded_and_shapes():
    cfg = TimingTaskConfig()
    x1, y1 = timing_task(40, cfg, seed=3)
    x2, y2 = timing_task(40, cfg, seed=3)
    x3, _ = timing_task(40, cfg, seed=4)
    assert x1.shape == (100, 40, 8) and x1.dtype == torch.float32 and y1.dtype == torch.int64
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)
    assert set(x1.unique().tolist()) <= {0.0, 1.0}
    assert torch.bincount(y1, minlength=10).tolist() == [4] * 10


def test_patterns_distinct_offsets_and_classes():
    cfg = TimingTaskConfig()
    p = timing_task_patterns(cfg, pattern_seed=1)
    assert p.shape == (10, 8) and p.min() >= 0 and p.max() <= cfg.max_offset
    for row in p:
        assert len(set(row.tolist())) == 8  # no two channels of a class coincide
        gaps = row.sort().values.diff()
        assert (gaps >= 3).all()  # > 2 * jitter: jittered signal spikes never coincide
    dense = timing_task_patterns(TimingTaskConfig(n_channels=20, min_spacing=1), 1)
    assert dense.shape == (10, 20) and all(len(set(r.tolist())) == 20 for r in dense)
    assert len({tuple(r.tolist()) for r in p}) == 10
    assert torch.equal(p, timing_task_patterns(cfg, pattern_seed=1))


def test_noise_free_samples_follow_the_pattern_up_to_a_shift():
    cfg = TimingTaskConfig(jitter=0, drop=0.0, noise_rate=0.0)
    p = timing_task_patterns(cfg, 0)
    x, y = timing_task(30, cfg, seed=0, patterns=p)
    assert torch.equal(x.sum(0), torch.ones(30, 8))  # exactly one spike per channel
    times = x.argmax(0)  # [N, C]
    rel = times - times.min(1, keepdim=True).values
    torch.testing.assert_close(rel, p[y] - p[y].min(1, keepdim=True).values)


def test_no_rate_code_without_noise_and_small_rate_gap_with_noise():
    cfg = TimingTaskConfig(jitter=1, drop=0.0, noise_rate=0.0)
    x, y = timing_task(200, cfg, seed=1)
    table = channel_count_table(x, y, 10)
    assert torch.equal(table, torch.ones(10, 8))  # identical rates in every class
    x, y = timing_task(2000, TimingTaskConfig(), seed=2)
    table = channel_count_table(x, y, 10)
    assert (table - table.mean(0)).abs().max() < 0.5  # only sampling noise


def test_splits_share_patterns_and_differ_in_samples():
    xtr, ytr, xte, yte = timing_task_splits(20, 20, seed=0)
    assert not torch.equal(xtr, xte)
    cfg = TimingTaskConfig(jitter=0, drop=0.0, noise_rate=0.0)
    a = timing_task_splits(10, 10, cfg, seed=0)
    rel = lambda x: x.argmax(0) - x.argmax(0).min(1, keepdim=True).values
    p = timing_task_patterns(cfg, 0)
    torch.testing.assert_close(rel(a[2]), p[a[3]] - p[a[3]].min(1, keepdim=True).values)


def test_bad_configs():
    with pytest.raises(ValueError, match="seq_len"):
        TimingTaskConfig(seq_len=50, max_start=30)
    with pytest.raises(ValueError, match="drop"):
        TimingTaskConfig(drop=1.5)
    with pytest.raises(ValueError, match="n_classes"):
        TimingTaskConfig(n_classes=1)
    with pytest.raises(ValueError, match="patterns have shape"):
        timing_task(5, patterns=torch.zeros(3, 3, dtype=torch.long))
