"""Recycled large CPU buffers for the kernels' outputs: ``empty(shape, dtype)``.

Why: a kernel's per-step outputs over a whole sequence ([T, B x N] spikes, the membrane
kept for the backward) are tens of megabytes. glibc serves allocations above 32 MiB with a
fresh ``mmap`` every time and returns them to the system on free, so every step the kernel
first-touches every page of a new buffer: 13,000 page faults for 52 MB, measured 20 ms of a
40 ms inference step (T=100, B=128, 700 -> 1024 at 2 % input density, BENCHMARKS.md). This
pool keeps the buffers it handed out and gives one back out again once nothing else refers
to it, so a training loop that asks for the same shapes every step touches resident memory.

A buffer is free when its storage has no user left but the pool: torch's use count of the
storage is 1 (tensors, views, saved-for-backward tensors, numpy arrays and DLPack capsules
made from the buffer all hold a count). Buffers are matched by exact byte size; below
``MIN_BYTES`` the allocator is used directly (glibc reuses small blocks by itself). The pool
tracks at most ``limit()`` bytes, in use and free together, so it never keeps more than that
after its callers let go: to make room it releases free buffers, the least recently used
first, and past the limit it hands out untracked ``torch.empty`` tensors. ``release()`` drops
every free buffer now; ``set_limit(0)`` turns recycling off. The default limit, 1 GiB,
can be set with the environment variable ``AXONAL_BUFFER_POOL_MB``.

The contents of a buffer are undefined, as with ``torch.empty``: only for outputs that the
kernel writes in full.
"""
from __future__ import annotations

import math
import os
import threading

import torch

__all__ = ["empty", "release", "set_limit", "limit", "idle_bytes"]

#: smaller requests go straight to the allocator
MIN_BYTES = 4 << 20


def _limit_from_env() -> int:
    """The limit ``AXONAL_BUFFER_POOL_MB`` sets (1 GiB when unset); a ValueError naming the
    variable and what it takes otherwise."""
    raw = os.environ.get("AXONAL_BUFFER_POOL_MB")
    if raw is None:
        return 1 << 30
    try:
        mb = float(raw)
    except ValueError:
        raise ValueError(f"environment variable AXONAL_BUFFER_POOL_MB={raw!r} is not a number "
                         "of megabytes; set it to e.g. 1024, or 0 to turn buffer recycling "
                         "off, or unset it for the default (1024)") from None
    if not 0 <= mb < math.inf:
        raise ValueError(f"environment variable AXONAL_BUFFER_POOL_MB={raw!r} must be a finite "
                         "number of megabytes >= 0 (e.g. 1024; 0 turns recycling off)")
    return int(mb * (1 << 20))


_lock = threading.Lock()
#: read from the environment on first use, not at import: a bad value must not make
#: ``import axonal`` fail, nor surface inside whatever happened to import this module first
#: (it was reported as "invalid recipe: model" by the CLI)
_limit: int | None = None
_held: list[torch.UntypedStorage] = []  # every buffer the pool owns, least recently used first


def _in_use(storage: torch.UntypedStorage) -> bool:
    return torch._C._storage_Use_Count(storage._cdata) > 1


def empty(shape, dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised contiguous CPU tensor of ``shape`` and ``dtype``, from a recycled
    buffer when one of the same size is free (``torch.empty`` otherwise)."""
    shape = tuple(int(s) for s in shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if limit() == 0 or nbytes < MIN_BYTES:  # limit() first: a bad setting fails on first use
        return torch.empty(shape, dtype=dtype)
    with _lock:
        storage = None
        for k, s in enumerate(_held):
            if s.nbytes() == nbytes and not _in_use(s):
                storage = _held.pop(k)
                break
        if storage is None:
            if not _trim(_limit - nbytes):
                return torch.empty(shape, dtype=dtype)
            storage = torch.empty(nbytes, dtype=torch.uint8).untyped_storage()
        _held.append(storage)  # most recently used last
    return torch.empty(0, dtype=dtype).set_(storage, 0, shape)


def _trim(budget: int) -> bool:
    """Release free buffers, least recently used first, until the pool tracks at most
    ``budget`` bytes; False if the buffers in use alone exceed it."""
    total = sum(s.nbytes() for s in _held)
    keep = []
    for s in _held:
        if total > budget and not _in_use(s):
            total -= s.nbytes()
        else:
            keep.append(s)
    _held[:] = keep
    return total <= budget


def idle_bytes() -> int:
    """Bytes the pool holds in buffers that nothing else uses."""
    with _lock:
        return sum(s.nbytes() for s in _held if not _in_use(s))


def release() -> None:
    """Give every free buffer back to the allocator (buffers still in use stay tracked)."""
    with _lock:
        _trim(0)


def limit() -> int:
    """The most bytes of buffers the pool tracks, in use and free together (first call:
    ``AXONAL_BUFFER_POOL_MB``, or 1 GiB)."""
    global _limit
    if _limit is None:
        value = _limit_from_env()
        with _lock:
            if _limit is None:
                _limit = value
    return _limit


def set_limit(nbytes: int) -> None:
    """Track at most ``nbytes`` of buffers (0: no recycling); releases free excess now."""
    global _limit
    if not (isinstance(nbytes, int) and nbytes >= 0):
        raise ValueError(f"the buffer pool limit must be an int >= 0 bytes, got {nbytes!r}")
    with _lock:
        _limit = nbytes
        _trim(nbytes)
