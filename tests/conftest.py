"""Test-session settings shared by every test file."""
import torch

# One intra-op thread per test process: on a busy 2-core machine torch's default thread pool
# contends with the other processes (pytest-xdist workers included) and small ops run 10-30x
# slower (measured: a meta-neuron training test took 46 s with 2 threads, 1.5 s with 1).
torch.set_num_threads(1)
