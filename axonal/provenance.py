"""Provenance of a result: the versions and the git commit a run used.

``environment()`` is the one helper that every result file records (the trainer's
``results.json``, the experiments and the benchmarks): Python, torch, numpy and axonal versions,
the platform and the commit of the source tree axonal is imported from. It is a leaf module
(nothing of axonal beyond its version) so that scripts can call it without importing the
training stack; ``axonal.train.environment`` is the same function.
"""
from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import numpy as np
import torch

from . import __version__

__all__ = ["environment", "git_commit"]


def git_commit() -> str:
    """The commit of the source tree axonal is imported from, or ``"unknown"``."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict:
    """Versions and commit recorded in every result file."""
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "axonal": __version__, "platform": platform.platform(), "git_commit": git_commit()}
