"""CTM parts against plain torch: private per-neuron MLPs, synchronisation sum, certainty loss."""
import math

import pytest
import torch
from torch.nn import functional as F

from axonal.models.sequence.ctm import (ContinuousThoughtMachine, NeuronLevelModels, SynchronizationReadout,
                                        certainty, certainty_tick_loss)


def test_neuron_level_models_are_private_mlps():
    torch.manual_seed(0)
    nlm = NeuronLevelModels(5, 4, 3).double()
    h = torch.randn(2, 5, 4, dtype=torch.float64)
    z = nlm(h)
    for n in range(5):
        a = F.glu(h[:, n] @ nlm.w1[n] + nlm.b1[n], -1)
        ref = F.glu(a @ nlm.w2[n] + nlm.b2[n], -1).squeeze(-1)
        torch.testing.assert_close(z[:, n], ref)
    # neuron 0's weights do not touch neuron 1's output
    z[:, 1].sum().backward()
    assert nlm.w1.grad[0].abs().sum() == 0 and nlm.w1.grad[1].abs().sum() > 0
    with pytest.raises(ValueError, match="history"):
        nlm(torch.randn(2, 4, 4, dtype=torch.float64))


def test_recurrent_synchronisation_equals_the_sum():
    torch.manual_seed(1)
    s = SynchronizationReadout(6, 5, seed=3).double()
    with torch.no_grad():
        s.decay.copy_(torch.tensor([0.0, 0.3, 1.0, 20.0, -1.0], dtype=torch.float64))
    zs = torch.randn(7, 2, 6, dtype=torch.float64)
    state = None
    for t in range(7):
        out, state = s.step(zs[t], state)
        r = torch.exp(-s.decay.clamp(0, 15))
        w = torch.stack([r ** (t - k) for k in range(t + 1)])              # [t+1, P]
        pp = zs[: t + 1][:, :, s.left] * zs[: t + 1][:, :, s.right]         # [t+1, B, P]
        ref = (w.unsqueeze(1) * pp).sum(0) / torch.sqrt(w.sum(0))
        torch.testing.assert_close(out, ref)
    assert (s.left[:2] == s.right[:2]).all()


def test_certainty_and_tick_loss():
    logits = torch.zeros(1, 4, 3)
    logits[0, 2, 1] = 10.0        # tick 1 is sure and right
    logits[0, 0, 2] = 3.0         # tick 2 fairly sure, wrong
    c = certainty(logits)
    assert c[0, 0] == pytest.approx(0.0, abs=1e-6) and c[0, 1] > c[0, 2] > 0
    loss, sure = certainty_tick_loss(logits, torch.tensor([2]))
    ce1 = F.cross_entropy(logits[:, :, 1], torch.tensor([2]))
    assert sure.item() == 1 and loss.item() == pytest.approx(ce1.item())
    assert 0 < ce1 < math.log(4)


def test_ctm_shapes_and_gradients():
    torch.manual_seed(0)
    ctm = ContinuousThoughtMachine(d_input=3, n_out=4, d_model=8, memory=3, ticks=4, d_attn=8, heads=2,
                                   n_sync_out=6, n_sync_action=4)
    out = ctm(torch.randn(2, 5, 3))
    assert out.shape == (2, 4, 4)
    loss, _ = certainty_tick_loss(out, torch.tensor([0, 3]))
    loss.backward()
    assert ctm.nlm.w1.grad.abs().sum() > 0 and ctm.sync_out.decay.grad is not None
    assert ContinuousThoughtMachine.grouped(torch.zeros(2, 6, 4), 2).shape == (2, 2, 3, 4)
