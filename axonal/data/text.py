"""Character-level language-modelling corpus: the Python standard library's own source files.

Every Python installation ships its standard library as source, so this corpus is on every
machine without a download. Exactly which text it is:

- **files**: ``sorted(glob(<stdlib>/*.py))``, the top-level ``.py`` files of the directory
  ``sysconfig.get_paths()["stdlib"]`` (no sub-packages, no tests folder), read as UTF-8;
- **split by file**: a file goes to *test* when ``crc32(file name) % 10 == 0``, to *validation*
  when it is ``1``, else to *train* (about 80 / 10 / 10 %). The split depends on the name only,
  so a file added in another Python version never moves the others;
- **order**: files are concatenated in sorted order within their split, each followed by one
  ``"\\n"``;
- **vocabulary**: fixed, not learned from the data: ``"\\n"``, ``"\\t"`` and the 95 printable
  ASCII characters 32..126, plus ``UNK`` (id 0) for anything else (97 + 1 = 98 ids).

On CPython 3.11.7 that is 168 files (train 134 / val 18 / test 16) and 3,517,249 / 669,366 /
511,833 characters: :func:`corpus_summary` reports the
numbers of the interpreter at hand (file names, characters per split and the share of ``UNK``),
and every result file should record it because another Python version gives another corpus.

Streaming (truncated BPTT): :func:`stream_batches` cuts a split's token stream into ``B``
contiguous rows (row ``b`` holds characters ``b*L .. (b+1)*L`` of the split) and yields
consecutive windows ``x [T, B]`` / ``y [T, B]`` (``y`` is ``x`` shifted by one), so the hidden
state after window ``k`` is the right initial state for window ``k + 1`` of the same row: the
model carries (and detaches) its state across batches.

Through :func:`axonal.data.load_dataset` (name ``python_stdlib_text``) the same splits come as
fixed-length chunks ``x [N, T, 1]`` (token ids as float, exact below 2**24) with per-step
targets ``y [N, T]``, for code that wants the common dataset API; the language-model trainer
(:mod:`axonal.train.language`) uses the stream.
"""
from __future__ import annotations

import glob
import os
import sysconfig
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import numpy as np
import torch

__all__ = ["VOCAB", "UNK", "encode", "decode", "corpus_files", "load_corpus", "TextCorpus", "corpus_summary",
           "stream_batches", "n_windows", "text_chunks"]

#: id 0 is the unknown character; then newline, tab and printable ASCII 32..126
VOCAB: tuple[str, ...] = ("\x00", "\n", "\t") + tuple(chr(c) for c in range(32, 127))
UNK = 0
_INDEX = {c: i for i, c in enumerate(VOCAB)}
_TABLE = torch.zeros(128, dtype=torch.int64)
for _c, _i in _INDEX.items():
    if _i != UNK:
        _TABLE[ord(_c)] = _i
SPLITS = ("train", "val", "test")


def encode(text: str) -> torch.Tensor:
    """Character ids ``[len(text)]`` int64 (characters outside the vocabulary map to ``UNK``)."""
    if not isinstance(text, str):
        raise TypeError(f"encode() needs a str, got {type(text).__name__}")
    codes = torch.from_numpy(np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
                             .astype(np.int64))
    ids = torch.zeros_like(codes)
    ascii_ = codes < 128
    ids[ascii_] = _TABLE[codes[ascii_]]
    return ids


def decode(ids) -> str:
    """The text of character ids (``UNK`` shows as ``"?"``)."""
    out = []
    for i in torch.as_tensor(ids).reshape(-1).tolist():
        if not 0 <= i < len(VOCAB):
            raise ValueError(f"decode(): id {i} is outside the vocabulary 0..{len(VOCAB) - 1}")
        out.append("?" if i == UNK else VOCAB[i])
    return "".join(out)


def split_of(name: str) -> str:
    """The split of a file, from its base name only (crc32 % 10: 0 test, 1 val, else train)."""
    r = zlib.crc32(os.path.basename(name).encode()) % 10
    return "test" if r == 0 else "val" if r == 1 else "train"


def corpus_files(stdlib: str | None = None) -> dict[str, list[str]]:
    """``{split: sorted file paths}`` of the corpus (``stdlib`` defaults to this interpreter's)."""
    root = stdlib or sysconfig.get_paths()["stdlib"]
    files = sorted(glob.glob(os.path.join(root, "*.py")))
    if not files:
        raise FileNotFoundError(f"no Python source files in {root!r}: this interpreter ships its standard library "
                                "without sources (e.g. a zipped or stripped build); pass stdlib= a folder of .py files")
    out = {s: [] for s in SPLITS}
    for f in files:
        out[split_of(f)].append(f)
    return out


@dataclass(frozen=True)
class TextCorpus:
    """The three splits as id tensors, and where they came from."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    files: dict
    root: str

    def split(self, name: str) -> torch.Tensor:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {SPLITS}")
        return getattr(self, name)


@lru_cache(maxsize=2)
def load_corpus(stdlib: str | None = None) -> TextCorpus:
    """Read and encode the corpus (cached per ``stdlib`` folder)."""
    files = corpus_files(stdlib)
    ids = {}
    for s, names in files.items():
        parts = []
        for f in names:
            with open(f, encoding="utf-8", errors="replace") as fh:
                parts.append(fh.read() + "\n")
        ids[s] = encode("".join(parts))
    return TextCorpus(ids["train"], ids["val"], ids["test"], {s: [os.path.basename(f) for f in v]
                                                              for s, v in files.items()},
                      stdlib or sysconfig.get_paths()["stdlib"])


def corpus_summary(stdlib: str | None = None) -> dict:
    """Files and characters per split, vocabulary size and ``UNK`` share: what a result should record."""
    import sys

    c = load_corpus(stdlib)
    return {"python": sys.version.split()[0], "root": c.root, "vocab_size": len(VOCAB),
            "files": {s: len(c.files[s]) for s in SPLITS},
            "characters": {s: int(c.split(s).numel()) for s in SPLITS},
            "unk_fraction": {s: float((c.split(s) == UNK).float().mean()) for s in SPLITS},
            "test_files": c.files["test"], "val_files": c.files["val"]}


def _rows(ids: torch.Tensor, batch_size: int, max_chars: int | None) -> torch.Tensor:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if max_chars is not None:
        ids = ids[:max_chars + 1]
    length = (ids.numel() - 1) // batch_size
    if length < 2:
        raise ValueError(f"{ids.numel()} characters cannot fill {batch_size} rows; lower batch_size or raise max_chars")
    return ids, length


def n_windows(ids: torch.Tensor, batch_size: int, bptt: int, max_chars: int | None = None) -> int:
    """How many windows :func:`stream_batches` yields."""
    _, length = _rows(ids, batch_size, max_chars)
    return -(-length // bptt)


def stream_batches(ids: torch.Tensor, batch_size: int, bptt: int, max_chars: int | None = None
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Contiguous truncated-BPTT windows ``(x [T, B], y [T, B])`` of a 1-D id stream.

    Row ``b`` is the contiguous slice ``ids[b*L : (b+1)*L + 1]`` with ``L = (n - 1) // B``; window
    ``k`` is steps ``k*bptt .. (k+1)*bptt`` of every row (the last may be shorter), so each window
    continues the previous one row by row. Only the first ``max_chars + 1`` ids are used if given.
    """
    if isinstance(bptt, bool) or not isinstance(bptt, int) or bptt < 1:
        raise ValueError(f"bptt must be a positive int, got {bptt!r}")
    ids, length = _rows(ids, batch_size, max_chars)
    x_all = ids[: batch_size * length].view(batch_size, length).t()
    y_all = ids[1: batch_size * length + 1].view(batch_size, length).t()
    for start in range(0, length, bptt):
        yield x_all[start:start + bptt].contiguous(), y_all[start:start + bptt].contiguous()


def text_chunks(seq_len: int = 128, max_chars: int | None = None, stdlib: str | None = None) -> dict:
    """The splits as ``SequenceDataset`` chunks for :func:`axonal.data.load_dataset`."""
    from .core import SequenceDataset

    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 2:
        raise ValueError(f"seq_len must be an int >= 2, got {seq_len!r}")
    c = load_corpus(stdlib)
    out = {}
    for s in SPLITS:
        ids = c.split(s) if max_chars is None else c.split(s)[:max_chars + 1]
        n = (ids.numel() - 1) // seq_len
        if n < 1:
            raise ValueError(f"split {s!r} has {ids.numel()} characters, fewer than seq_len={seq_len}")
        x = ids[: n * seq_len].view(n, seq_len, 1).float()
        y = ids[1: n * seq_len + 1].view(n, seq_len)
        out[s] = SequenceDataset(x, y)
    return out
