"""Benchmarks of axonal (speed, memory, agreement with peer libraries); results in BENCHMARKS.md.

A package so that its scripts share helpers (``benchmarks.peer_workloads``) by ordinary imports.
Run every script as a module from the repository root, e.g. ``python -m benchmarks.peers``:
``-m`` puts the repository root first on ``sys.path``, so the scripts, their subprocess workers
(started the same way, with the root as working directory) and ``axonal`` all come from this
checkout, which ``make install`` also installs (editable) into ``.venv``.
"""
