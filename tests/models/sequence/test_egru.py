"""EGRU: event output and pseudo-derivative against plain torch, sparse backward, streaming."""
import torch
from hypothesis import given, settings, strategies as st

from axonal.models.sequence.egru import EGRU, EGRUCell, EGRULanguageModel, event_output, pseudo_derivative
from axonal.surrogate import Triangle


@given(seed=st.integers(0, 1000), gamma=st.floats(0.1, 1.0), eps=st.floats(0.2, 2.0))
@settings(max_examples=30, deadline=None)
def test_event_output_matches_plain_torch_with_pseudo_derivative(seed, gamma, eps):
    g = torch.Generator().manual_seed(seed)
    c = (torch.randn(4, 5, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
    theta = (torch.rand(5, generator=g, dtype=torch.float64)).requires_grad_(True)
    gy = torch.randn(4, 5, generator=g, dtype=torch.float64)
    y, e = event_output(c, theta, gamma, eps)
    (y * gy).sum().backward()
    # plain torch: y = c * H(c - theta), H' = gamma * max(0, 1 - |x|/eps) via a smooth primitive
    c2, t2 = c.detach().clone().requires_grad_(True), theta.detach().clone().requires_grad_(True)
    x = c2 - t2
    smooth = gamma * eps * Triangle(width=eps).primitive(x)
    h = (x > 0).double() + smooth - smooth.detach()
    (c2 * h * gy).sum().backward()
    torch.testing.assert_close(y, c.detach() * (c.detach() > theta.detach()).double())
    torch.testing.assert_close(c.grad, c2.grad)
    torch.testing.assert_close(theta.grad, t2.grad)


def test_backward_is_activity_sparse():
    c = torch.tensor([-3.0, 0.1, 0.9, 2.0], requires_grad=True)   # theta = 0.5, eps = 1
    y, _ = event_output(c, torch.full((4,), 0.5), 0.3, 1.0)
    y.sum().backward()
    assert c.grad[0] == 0                     # silent and far from threshold: no gradient path
    assert c.grad[1] != 0 and c.grad[2] != 0 and c.grad[3] == 1.0
    assert torch.equal(pseudo_derivative(torch.tensor([0.0, 2.0]), 0.3, 1.0), torch.tensor([0.3, 0.0]))


def test_cell_equations_and_event_reset():
    torch.manual_seed(0)
    cell = EGRUCell(3, 4)
    x = torch.randn(2, 3)
    s = cell.initial_state(2)
    s = s._replace(c=torch.randn(2, 4), y=torch.randn(2, 4).clamp(min=0))
    y, e, new = cell(x, s)
    W = cell.input(x)
    H = 4
    R = cell.recurrent(s.y)
    u = torch.sigmoid(W[:, :H] + R[:, :H])
    r = torch.sigmoid(W[:, H:2 * H] + R[:, H:])
    z = torch.tanh(W[:, 2 * H:] + cell.recurrent_z(r * s.y))
    c = u * z + (1 - u) * s.c
    ev = (c > cell.theta).float()
    torch.testing.assert_close(y, c * ev)
    torch.testing.assert_close(new.c, c - cell.theta * ev)
    assert torch.equal(new.y, y)


def test_layer_streams_and_language_model_records_events():
    torch.manual_seed(1)
    layer = EGRU(3, 5)
    x = torch.randn(8, 2, 3)
    whole, _, _ = layer(x)
    a, _, s = layer(x[:3])
    b, _, _ = layer(x[3:], s)
    torch.testing.assert_close(torch.cat([a, b]), whole)
    lm = EGRULanguageModel(10, d_embed=4, hidden=6)
    lm.recording = True
    lm(torch.randint(0, 10, (5, 2)))
    assert "events0" in lm.activity
