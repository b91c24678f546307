"""Test-session settings shared by every test file."""
import os

import torch

# Without a GPU, Triton can only run in its CPU interpreter, and it decides that when it is
# first imported: set it before any test (or torch itself) imports triton, so that
# tests/kernels/lif/test_triton.py runs wherever it lands in the session. A GPU session is untouched.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# One intra-op thread per test process: on a busy 2-core machine torch's default thread pool
# contends with the other processes (pytest-xdist workers included) and small ops run 10-30x
# slower (measured: a meta-neuron training test took 46 s with 2 threads, 1.5 s with 1).
torch.set_num_threads(1)
