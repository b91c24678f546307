"""Contrastive heads: InfoNCE by hand, alignment of two modalities, zero-shot on unseen classes."""
import math

import pytest
import torch
import torch.nn.functional as F

from axonal.reservoir.zero_shot import ContrastiveHeads, info_nce, nearest_prototype


def test_info_nce_matches_its_definition():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    an, bn = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = an @ bn.T / 0.2
    ref = 0
    for k in range(5):
        ref -= torch.log_softmax(logits[k], 0)[k] / 10 + torch.log_softmax(logits[:, k], 0)[k] / 10
    assert info_nce(a, b, 0.2).item() == pytest.approx(ref.item(), rel=1e-5)
    # identical, orthogonal pairs: the loss goes to 0 as the temperature shrinks
    eye = torch.eye(4)
    assert info_nce(eye, eye, 0.01).item() < 1e-6
    # no information: loss log(B)
    assert info_nce(torch.ones(4, 2), torch.ones(4, 2)).item() == pytest.approx(math.log(4), rel=1e-6)


def _two_modalities(n_per_class, classes, seed):
    """Shared latent class codes seen through two different random linear maps plus noise."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.randn(10, 6, generator=torch.Generator().manual_seed(123))
    ma = torch.randn(6, 40, generator=torch.Generator().manual_seed(1))
    mb = torch.randn(6, 25, generator=torch.Generator().manual_seed(2))
    y = torch.tensor(classes).repeat_interleave(n_per_class)
    z = codes[y] + 0.3 * torch.randn(len(y), 6, generator=g)
    xa = z @ ma + 0.1 * torch.randn(len(y), 40, generator=g)
    xb = z @ mb + 0.1 * torch.randn(len(y), 25, generator=g)
    return xa, xb, y


def test_heads_align_modalities_and_classify_unseen_classes_zero_shot():
    torch.manual_seed(0)
    xa, xb, y = _two_modalities(60, list(range(7)), seed=0)
    heads = ContrastiveHeads(40, 25, embed_dim=8)
    hist = heads.fit(xa, xb, epochs=30, batch_size=420, lr=3e-2, seed=0)
    assert hist[-1] < 0.6 * hist[0]
    # unseen classes 7, 8, 9: modality-A queries against modality-B prototypes (class means)
    qa, qb, qy = _two_modalities(40, [7, 8, 9], seed=1)
    with torch.no_grad():
        za, zb = heads.embed_a(qa), heads.embed_b(qb)
        protos = torch.stack([zb[qy == c].mean(0) for c in (7, 8, 9)])
        pred = nearest_prototype(za, protos, torch.tensor([7, 8, 9]))
    assert (pred == qy).float().mean().item() > 0.8          # chance is 1/3
    assert torch.allclose(za.norm(dim=1), torch.ones(len(qy)))


def test_checks():
    with pytest.raises(ValueError, match="same shape"):
        info_nce(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="paired"):
        ContrastiveHeads(3, 2).fit(torch.zeros(5, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="label"):
        nearest_prototype(torch.zeros(2, 3), torch.zeros(4, 3), torch.arange(3))
