"""SparseSynapse (fixed sparse connectivity): equal to the dense equivalent in values and in
every gradient; fixed or plastic; built from dense, CSR and reservoir connectivities."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from axonal import Sequential
from axonal.learning import STDP
from axonal.neurons import LIF
from axonal.reservoir import random_connectivity
from axonal.synapses import SparseSynapse

f64 = torch.float64


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 6), b=st.integers(1, 4), fin=st.integers(1, 20),
       fout=st.integers(1, 20), p=st.floats(0.0, 1.0), dup=st.booleans())
def test_equals_dense_equivalent_values_and_gradients(seed, t, b, fin, fout, p, dup):
    """[T, B, in] -> [T, B, out] equals x @ W^T for the dense W that is zero off the synapses;
    the gradient of every synapse's weight is the dense gradient at its (post, pre) pair
    (repeated pairs each get it), the input gradient is the dense one."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(fout, fin, generator=g) < p
    post, pre = mask.nonzero(as_tuple=True)
    if dup and post.numel():
        post, pre = torch.cat([post, post[:1]]), torch.cat([pre, pre[:1]])
    w = torch.randn(post.numel(), generator=g, dtype=f64)
    syn = SparseSynapse(fin, fout, pre, post, w, dtype=f64)
    dense = torch.zeros(fout, fin, dtype=f64).index_put((post, pre), w, accumulate=True).requires_grad_()
    x = torch.randn(t, b, fin, generator=g, dtype=f64)
    xs, xd = x.clone().requires_grad_(), x.clone().requires_grad_()
    y = syn(xs)
    yd = xd @ dense.T
    assert y.shape == (t, b, fout)
    torch.testing.assert_close(y, yd, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(syn.to_dense(), dense.detach())
    gy = torch.randn(t, b, fout, generator=g, dtype=f64)
    (y * gy).sum().backward()
    (yd * gy).sum().backward()
    torch.testing.assert_close(xs.grad, xd.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(syn.weight.grad, dense.grad[post, pre], rtol=1e-12, atol=1e-12)


def test_fixed_or_trainable_and_trains_inside_a_network():
    torch.manual_seed(0)
    fixed = SparseSynapse(6, 4, [0, 1, 5], [0, 3, 3], [1.0, 2.0, 3.0], trainable=False)
    assert list(fixed.parameters()) == [] and "weight" in dict(fixed.named_buffers())
    trainable = SparseSynapse(6, 4, [0, 1, 5], [0, 3, 3], [1.0, 2.0, 3.0])
    assert [n for n, _ in trainable.named_parameters()] == ["weight"]
    # a spiking network with a sparse layer learns by gradient: the loss goes down
    syn = SparseSynapse(20, 10, *np.nonzero(np.random.default_rng(0).random((20, 10)) < 0.3))
    net = Sequential(syn, LIF(10))
    x = (torch.rand(30, 8, 20) < 0.3).float()
    target = torch.full((8, 10), 5.0)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        s, _ = net(x)
        loss = ((s.sum(0) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_plastic_with_a_local_rule_changes_only_existing_synapses():
    syn = SparseSynapse.from_dense(torch.tensor([[0.5, 0.0], [0.0, 0.5]], dtype=f64), trainable=False)
    rule = STDP(a_plus=0.1, a_minus=0.0, w_min=0.0, w_max=1.0, reduce="sum")
    dense = syn.to_dense()
    state = None
    for pre_t, post_t in (([1.0, 1.0], [0.0, 0.0]), ([0.0, 0.0], [1.0, 1.0])):
        dw, state = rule.step(torch.tensor([pre_t], dtype=f64), torch.tensor([post_t], dtype=f64),
                              state, dense)
        syn.update_from_dense(dw)
    # every pair was potentiated by the rule, but only the two synapses exist
    assert dw.min() > 0
    expected = 0.5 + 0.1 * np.exp(-1 / 20)
    torch.testing.assert_close(syn.weight, torch.full((2,), expected, dtype=f64))
    assert torch.equal(syn.to_dense() == 0, torch.tensor([[False, True], [True, False]]))


def test_from_csr_and_from_a_reservoir_connectivity():
    conn = random_connectivity(7, 5, 0.4, weight=lambda r, a, b: r.uniform(-1, 1, a.size), seed=3)
    syn = conn.synapse(dtype=f64)
    assert not syn.trainable and syn.nnz == conn.nnz
    torch.testing.assert_close(syn.to_dense(), torch.as_tensor(conn.to_dense()).T)
    again = SparseSynapse.from_csr(7, 5, conn.indptr, conn.indices, conn.weights, dtype=f64)
    assert torch.equal(again.pre, syn.pre) and torch.equal(again.post, syn.post)
    x = torch.rand(4, 3, 7, dtype=f64)
    torch.testing.assert_close(syn(x), x @ torch.as_tensor(conn.to_dense()))
    two = random_connectivity(7, 5, 0.6, seed=3, channel=lambda r, a, b: r.integers(0, 2, a.size))
    with pytest.raises(ValueError, match="channel="):
        two.synapse()
    only0 = two.synapse(channel=0)
    assert only0.nnz == int((two.channels == 0).sum())
    with pytest.raises(ValueError, match="delays"):
        random_connectivity(7, 5, 0.6, seed=3, delay=2).synapse()


def test_errors_are_clear():
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        SparseSynapse(3, 2, [0, 3], [0, 1])
    with pytest.raises(ValueError, match="same synapses"):
        SparseSynapse(3, 2, [0, 1], [0])
    with pytest.raises(TypeError, match="integer"):
        SparseSynapse(3, 2, [0.5], [0])
    with pytest.raises(ValueError, match="2 weights for 1 synapses"):
        SparseSynapse(3, 2, [0], [0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"\[T, B, 3\]"):
        SparseSynapse(3, 2, [0], [0])(torch.zeros(4, 2, 5))
    with pytest.raises(ValueError, match="indptr"):
        SparseSynapse.from_csr(3, 2, [0, 1], [0], [1.0])
    with pytest.raises(ValueError, match="dw must be"):
        SparseSynapse(3, 2, [0], [0]).update_from_dense(torch.zeros(3, 2))
