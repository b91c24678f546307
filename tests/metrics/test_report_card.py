"""``report_card`` of any model and loader."""
import pytest
import torch
from torch import nn

from axonal.metrics.energy_model import energy_breakdown
from axonal.metrics.report_card import combine_cards, report_card
from axonal.network import Sequential
from axonal.neurons import LIF


class Scores(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = Sequential(nn.Linear(3, 8), LIF(8, threshold=0.5), nn.Linear(8, 2))

    def forward(self, x):
        return self.net(x)[0].mean(0)


def _loader():
    g = torch.Generator().manual_seed(1)
    return [(torch.rand(8, 4, 3, generator=g), torch.randint(0, 2, (4,), generator=g)) for _ in range(2)]


def test_card_numbers_match_the_metrics_and_files_are_written(tmp_path):
    model, loader = Scores(), _loader()
    card = report_card(model, loader, name="toy", out_dir=tmp_path, steps_grid=[2, 8])
    with torch.no_grad():
        acc = sum(int((model(x).argmax(1) == y).sum()) for x, y in loader) / 8
    assert card.data["accuracy"] == acc
    ref = energy_breakdown(model, loader)
    assert card.data["energy"]["horowitz_45nm"]["totals"]["total_j"] == pytest.approx(ref.total_j)
    assert [c["steps"] for c in card.data["accuracy_vs_steps"]] == [2, 8]
    assert card.data["accuracy_vs_steps"][-1]["energy_j"] == pytest.approx(ref.total_j)
    assert card.data["accuracy_vs_steps"][0]["energy_j"] < ref.total_j
    assert (tmp_path / "report.md").read_text() == card.markdown
    assert "![energy breakdown](energy_breakdown.png)" in card.markdown
    page = combine_cards([card, card], "two", prefixes=["a", "b"])
    assert "](a/energy_breakdown.png)" in page and "](b/energy_breakdown.png)" in page


def test_card_of_a_static_ann_and_bad_loaders():
    ann = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loader = [(torch.rand(5, 3), torch.zeros(5, dtype=torch.long))]
    card = report_card(ann, loader, static=True)
    assert card.data["steps"] == 1 and card.data["accuracy_vs_steps"] == []
    assert card.data["energy"]["horowitz_45nm"]["totals"]["macs"] > 0 and not card.files
    with pytest.raises(TypeError, match=r"\(x, y\)"):
        report_card(ann, [torch.rand(5, 3)], static=True)
    with pytest.raises(ValueError, match="no batch"):
        report_card(ann, [], static=True)
