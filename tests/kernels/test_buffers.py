"""The recycled output buffers (axonal.kernels.buffers): a buffer is handed out again only
once nothing refers to it, the pool never tracks more than its limit, and kernels that draw
their outputs from it keep earlier outputs intact."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal.kernels import buffers


@pytest.fixture
def pool(monkeypatch):
    """The pool with every size recycled and a 1 MiB limit; restored afterwards."""
    old = buffers.limit()
    buffers.release()
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    buffers.set_limit(1 << 20)
    yield buffers
    buffers.release()
    buffers.set_limit(old)


def test_reused_only_when_nothing_refers_to_it(pool):
    a = pool.empty((16, 8), torch.float32)
    ptr = a.data_ptr()
    holders = {
        "view": lambda t: t.view(-1)[3:],
        "numpy": lambda t: t.numpy(),
        "dlpack": lambda t: torch.utils.dlpack.to_dlpack(t),
        "saved for backward": lambda t: (torch.ones(16, 8, requires_grad=True) * t).sum(),
    }
    for name, hold in holders.items():
        h = hold(a)
        del a
        b = pool.empty((16, 8), torch.float32)
        assert b.data_ptr() != ptr, f"buffer reused while a {name} still held it"
        del h, b
        a = pool.empty((16, 8), torch.float32)
        assert a.data_ptr() == ptr, f"buffer not reused after the {name} was dropped"


def test_exact_size_and_dtype_shape(pool):
    a = pool.empty((4, 32), torch.float32)
    ptr = a.data_ptr()
    del a
    b = pool.empty((8, 16), torch.int32)  # same bytes, other shape and dtype: reused
    assert b.data_ptr() == ptr and b.shape == (8, 16) and b.dtype == torch.int32
    assert b.is_contiguous()
    del b
    c = pool.empty((4, 33), torch.float32)  # other size: a new buffer
    assert c.data_ptr() != ptr


def test_small_requests_bypass_the_pool(monkeypatch):
    monkeypatch.setattr(buffers, "MIN_BYTES", 1 << 20)
    buffers.release()
    a = buffers.empty((10,), torch.float32)
    del a
    assert buffers.idle_bytes() == 0


def test_limit_bounds_what_is_tracked(pool):
    big = [pool.empty((1 << 17,), torch.float32) for _ in range(3)]  # 512 KiB each, limit 1 MiB
    assert sum(t.nbytes for t in big) == 3 << 19
    tracked = {t.data_ptr() for t in big[:2]}
    del big
    assert pool.idle_bytes() == 1 << 20  # the third was handed out untracked
    again = pool.empty((1 << 17,), torch.float32)
    assert again.data_ptr() in tracked
    pool.set_limit(1 << 19)  # keeps only what fits: the one in use
    assert pool.idle_bytes() == 0
    pool.release()
    assert pool.idle_bytes() == 0


def test_set_limit_zero_turns_recycling_off(pool):
    a = pool.empty((64,), torch.float32)
    del a
    pool.set_limit(0)
    assert pool.idle_bytes() == 0
    a = pool.empty((64,), torch.float32)
    del a
    assert pool.idle_bytes() == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "10"])
def test_set_limit_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="buffer pool limit"):
        buffers.set_limit(bad)


@pytest.mark.parametrize("raw, ok", [("512", 512 << 20), ("0", 0), ("lots", None), ("-3", None)])
def test_limit_from_environment(monkeypatch, raw, ok):
    monkeypatch.setenv("AXONAL_BUFFER_POOL_MB", raw)
    if ok is None:
        with pytest.raises(ValueError, match="AXONAL_BUFFER_POOL_MB"):
            buffers._limit_from_env()
    else:
        assert buffers._limit_from_env() == ok


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["get", "drop"]), st.integers(0, 3), st.integers(0, 7)),
                max_size=40))
def test_live_buffers_never_overlap(ops):
    """Over random sequences of requests and drops, no two live tensors share memory, each
    keeps what was written into it, and the pool tracks at most its limit."""
    old_min, old_limit = buffers.MIN_BYTES, buffers.limit()
    buffers.release()
    buffers.MIN_BYTES = 0
    buffers.set_limit(4096)
    try:
        live = {}
        for op, size, key in ops:
            if op == "drop":
                live.pop(key, None)
                continue
            t = buffers.empty((64 * (size + 1),), torch.float32)
            t.fill_(key * 10 + size)
            live[(key, size)] = t
            spans = sorted((v.data_ptr(), v.data_ptr() + v.nbytes) for v in live.values())
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
            for (k, s), v in live.items():
                assert bool((v == k * 10 + s).all())
            assert sum(s.nbytes() for s in buffers._held) <= 4096
    finally:
        buffers.MIN_BYTES = old_min
        buffers.release()
        buffers.set_limit(old_limit)


def test_fused_kernel_outputs_survive_the_next_call(pool):
    """A kept output of the fused Linear+LIF kernel is not overwritten by the next call."""
    import axonal
    from axonal.synapses import EventLinear

    g = torch.Generator().manual_seed(0)
    net = axonal.Sequential(EventLinear(40, 24, bias=False), axonal.LIF(24))
    with torch.no_grad():
        net[0].weight.normal_(0, 0.6, generator=g)
    x1 = (torch.rand(30, 3, 40, generator=g) < 0.05).float()
    x2 = (torch.rand(30, 3, 40, generator=g) < 0.05).float()
    with torch.no_grad():
        s1 = net(x1)[0]
        kept = s1.clone()
        s2 = net(x2)[0]
    assert s1.data_ptr() != s2.data_ptr()
    assert torch.equal(s1, kept)
    del s1
    with torch.no_grad():
        s3 = net(x1)[0]
    assert torch.equal(s3, kept)
    # training: spikes and the saved membrane come from the pool, the gradient is unchanged
    w = net[0].weight
    out = net(x1)[0]
    out.sum().backward()
    g1 = w.grad.clone()
    w.grad = None
    pool.set_limit(0)
    net(x1)[0].sum().backward()
    assert torch.equal(w.grad, g1)
    assert np.array_equal(out.detach().numpy(), kept.numpy())


@pytest.mark.parametrize("raw", ["abc", "inf", "nan"])
def test_a_bad_environment_value_fails_on_first_use_naming_the_variable(monkeypatch, raw):
    """Issue 24: read at import, a bad value broke ``import axonal`` or surfaced as an
    unrelated error; now the pool's first use says what is wrong and what it takes."""
    monkeypatch.setattr(buffers, "_limit", None)
    monkeypatch.setenv("AXONAL_BUFFER_POOL_MB", raw)
    with pytest.raises(ValueError, match=r"AXONAL_BUFFER_POOL_MB=.*(e\.g\. 1024)"):
        buffers.empty((1,), torch.uint8)  # even a small request reads the setting
    monkeypatch.setenv("AXONAL_BUFFER_POOL_MB", "1")
    assert buffers.limit() == 1 << 20


def test_the_cli_names_a_bad_pool_variable(tmp_path):
    env = dict(os.environ, AXONAL_BUFFER_POOL_MB="abc")
    env.pop("AXONAL_DEBUG", None)
    root = Path(__file__).resolve().parents[2]
    imported = subprocess.run([sys.executable, "-c", "import axonal"], env=env, cwd=root,
                              capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0, imported.stderr
    out = subprocess.run([sys.executable, "-m", "axonal.cli", "train", "basicmotions",
                          "--set", "training.epochs=1", "--out", str(tmp_path / "run")],
                         env=env, cwd=root, capture_output=True, text=True, timeout=600)
    assert out.returncode == 2, out.stderr
    assert "AXONAL_BUFFER_POOL_MB='abc'" in out.stderr and "1024" in out.stderr, out.stderr
    assert "invalid recipe" not in out.stderr
