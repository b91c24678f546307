"""SpikingBrain coders round-trip exactly; adaptive integer spikes; linear attention = quadratic form."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from axonal.models.sequence.spiking_brain import (AdaptiveIntegerSpike, SpikingLinearAttentionLM,
                                                  causal_linear_attention, decode_counts, encode_counts,
                                                  steps_needed)

counts = st.lists(st.integers(-40, 40), min_size=1, max_size=12).map(torch.tensor)


@given(c=counts, scheme=st.sampled_from(["ternary", "bitwise"]),
       signed=st.sampled_from(["sign_magnitude", "twos_complement"]))
@settings(max_examples=80, deadline=None)
def test_round_trip_signed(c, scheme, signed):
    s = encode_counts(c, scheme, signed=signed)
    assert s.shape[0] == steps_needed(c, scheme, signed)
    assert set(s.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert torch.equal(decode_counts(s, scheme, signed=signed), c)


@given(c=counts)
@settings(max_examples=40, deadline=None)
def test_round_trip_binary_with_zero_point(c):
    zp = int(c.min())
    s = encode_counts(c, "binary", zero_point=zp)
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(decode_counts(s, "binary", zero_point=zp), c)


def test_known_codes():
    assert encode_counts(torch.tensor([5]), "bitwise").flatten().tolist() == [1, 0, 1]
    assert encode_counts(torch.tensor([3]), "binary").flatten().tolist() == [1, 1, 1]
    assert encode_counts(torch.tensor([-2]), "ternary").flatten().tolist() == [-1, -1]
    assert encode_counts(torch.tensor([-3]), "bitwise", signed="twos_complement").flatten().tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="non-negative"):
        encode_counts(torch.tensor([-1]), "binary")
    with pytest.raises(ValueError, match="needs 3 steps"):
        encode_counts(torch.tensor([5]), "bitwise", steps=2)
    with pytest.raises(ValueError, match="integers"):
        encode_counts(torch.tensor([0.5]), "ternary")


def test_adaptive_integer_spike_counts_and_straight_through():
    a = AdaptiveIntegerSpike(k=1.0, n_max=4)
    x = torch.tensor([[1.0, -2.0, 3.0, 0.1]], requires_grad=True)
    y = a(x)
    vth = x.detach().abs().mean() / 1.0 + 1e-6
    assert torch.equal(a.last_counts, torch.round(x.detach() / vth).long())
    torch.testing.assert_close(y, a.last_counts * vth)
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_linear_attention_equals_quadratic_form_and_streams():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(6, 2, 3, 4, generator=g, dtype=torch.float64) for _ in range(3))
    o, _ = causal_linear_attention(q, k, v)
    fq, fk = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1
    scores = torch.einsum("tbhd,sbhd->bhts", fq, fk).tril()
    ref = torch.einsum("bhts,sbhe->tbhe", scores / (scores.sum(-1, keepdim=True) + 1e-6), v)
    torch.testing.assert_close(o, ref)
    a, s = causal_linear_attention(q[:2], k[:2], v[:2])
    b, _ = causal_linear_attention(q[2:], k[2:], v[2:], s)
    torch.testing.assert_close(torch.cat([a, b]), o)


def test_language_model_inputs_are_spike_counts():
    m = SpikingLinearAttentionLM(12, d_model=8, n_layers=1, heads=2)
    m.recording = True
    m(torch.randint(0, 12, (5, 2)))
    for layer in m.layers:
        assert layer.qkv.spike.last_counts.dtype == torch.int64
    assert "qkv_counts" in m.activity
