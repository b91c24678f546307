"""SpikeGPT / RWKV blocks: kernel and reference paths agree, state streams, spikes are binary."""
import pytest
import torch

from axonal.models.sequence import SpikeGPT, detach_state


def _model(spiking, backend="auto", seed=0):
    torch.manual_seed(seed)
    return SpikeGPT(20, d_model=8, n_layers=2, ffn_mult=2, spiking=spiking, backend=backend).double()


@pytest.mark.parametrize("spiking", [False, True])
def test_numba_and_torch_wkv_give_the_same_model(spiking):
    x = torch.randint(0, 20, (7, 3))
    outs, grads = [], []
    for backend in ("torch", "numba"):
        m = _model(spiking, backend)
        y, _ = m(x)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        outs.append(y.detach())
        grads.append({n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None})
    torch.testing.assert_close(outs[0], outs[1])
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-7, atol=1e-9, msg=n)


@pytest.mark.parametrize("spiking", [False, True])
def test_state_carries_across_windows(spiking):
    m = _model(spiking)
    x = torch.randint(0, 20, (10, 2))
    whole, _ = m(x)
    a, s = m(x[:6])
    b, _ = m(x[6:], detach_state(s))
    torch.testing.assert_close(torch.cat([a, b]), whole)


def test_spiking_signals_are_binary_and_recorded():
    m = _model(True)
    m.recording = True
    m(torch.randint(0, 20, (6, 2)))
    assert set(m.activity) == {"embedding_spikes", "att_spikes", "ffn_spikes"}
    h = m._spike(m.embed(torch.arange(20).view(-1, 1)))
    assert set(h.unique().tolist()) <= {0.0, 1.0}
    assert not _model(False).binary_embedding and not hasattr(_model(False).blocks[0], "lif_att")


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"ids must lie in 0..19"):
        _model(True)(torch.full((3, 1), 25))
    with pytest.raises(ValueError, match=r"x \[T, B\] int64"):
        _model(True)(torch.zeros(3, 1))
