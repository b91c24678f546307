"""The peer benchmark's harness: reference LIF, adapters, worker protocol, memory probe, reports.

Timing itself is not tested (no timed assertions); what is tested is that the harness measures
the right workload and reports it faithfully.
"""
import io
import json
import math
from pathlib import Path

import pytest
import torch

from benchmarks import peer_workloads as pw
from benchmarks import peers

SMALL = pw.Config(T=30, B=4, n_in=40, n_out=16)


def test_reference_lif_known_values():
    # constant input 0.5: v = 0.5, 0.95, 1.355 -> spike, reset to 0.355; 0.8195; 1.23755 -> spike,
    # reset to 0.23755; 0.713795
    s = pw.reference_lif(torch.full((6, 1), 0.5), "same-step")
    assert s.squeeze(1).tolist() == [0, 0, 1, 0, 1, 0]


def test_reference_lif_delayed_subtracts_after_the_decay():
    # delayed: v = 0.5, 0.95, 1.355 (spike), then 0.9*1.355 + 0.5 - 1 = 0.7195, 1.14755 (spike)
    s = pw.reference_lif(torch.full((5, 1), 0.5), "delayed")
    assert s.squeeze(1).tolist() == [0, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="unknown variant"):
        pw.reference_lif(torch.zeros(2, 1), "late")


def test_make_problem_is_seeded_and_scaled():
    x1, w1, t1 = pw.make_problem(SMALL, 0.1, seed=3)
    x2, w2, t2 = pw.make_problem(SMALL, 0.1, seed=3)
    assert torch.equal(x1, x2) and torch.equal(w1, w2) and torch.equal(t1, t2)
    assert set(x1.unique().tolist()) <= {0.0, 1.0}
    x, w, _ = pw.make_problem(pw.Config(50, 8, 400, 64), 0.02)
    assert abs(x.mean().item() - 0.02) < 0.005
    expected_std = pw.WEIGHT_GAIN / math.sqrt(400 * 0.02)
    assert abs(w.std().item() / expected_std - 1) < 0.05


@pytest.mark.parametrize("library, density", [
    ("axonal", 0.2), ("axonal", 0.05), ("axonal-dense", 0.05), ("torch-loop", 0.2)])
def test_adapters_match_the_reference(library, density):
    """axonal at 5 % input runs the fused event-driven Linear+LIF kernel, at 20 % the dense
    matmul then the LIF kernel; axonal-dense always the latter."""
    x, w, _ = pw.make_problem(SMALL, density, seed=1)
    net = pw.ADAPTERS[library](w)
    with torch.no_grad():
        spikes = net(x)
        ref = pw.reference_lif(net.fc(x), "same-step")
    assert spikes.shape == (SMALL.T, SMALL.B, SMALL.n_out)
    assert ref.sum() > 0
    assert torch.equal(spikes, ref)


def test_torch_loop_surrogate_is_axonals_atan():
    import axonal.surrogate as sg

    x = torch.linspace(-3, 3, 61, dtype=torch.float64, requires_grad=True)
    pw._AtanSpike.apply(x).sum().backward()
    assert torch.allclose(x.grad, sg.ATan().derivative(x.detach()))


@pytest.mark.parametrize("library, variant", [
    ("spikingjelly", "same-step"), ("norse", "same-step"),
    ("snntorch", "delayed"), ("snntorch-nodelay", "nodelay"),
])
def test_peer_adapters_match_their_reference(library, variant):
    """Each peer computes exactly the dynamics SEMANTICS claims (runs in the peers venv)."""
    pytest.importorskip(pw.DISTRIBUTIONS[library])
    x, w, _ = pw.make_problem(SMALL, 0.2, seed=1)
    net = pw.ADAPTERS[library](w)
    with torch.no_grad():
        ref = pw.reference_lif(x @ w.T, variant)
        assert ref.sum() > 0
        assert torch.equal(net(x), ref)


def test_train_step_produces_gradients_and_infer_does_not():
    b = pw.Bench("axonal", SMALL, 0.2, "train")
    loss = b.step()
    assert math.isfinite(loss) and b.net.fc.weight.grad is not None
    assert b.net.fc.weight.grad.abs().sum() > 0
    b = pw.Bench("torch-loop", SMALL, 0.2, "infer")
    b.step()
    assert b.net.fc.weight.grad is None
    with pytest.raises(ValueError, match="mode"):
        pw.Bench("axonal", SMALL, 0.2, "eval")


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_peak_rss_growth_sees_torch_allocations():
    n = 64 * 2**20 // 4

    def alloc():
        t = torch.ones(n)  # 64 MiB, touched
        del t

    grown = pw.peak_rss_growth(alloc)
    if grown is None:
        pytest.skip("/proc/self/clear_refs not writable here")
    assert grown >= 60 * 2**20
    assert pw.peak_rss_growth(lambda: None) < 16 * 2**20


def test_worker_protocol_in_process():
    cmds = [
        {"cmd": "setup", "cfg": SMALL.__dict__, "density": 0.2, "mode": "train"},
        {"cmd": "time", "reps": 2},
        {"cmd": "mem", "reps": 1},
        {"cmd": "bogus"},
        {"cmd": "quit"},
    ]
    out = io.StringIO()
    pw.serve("torch-loop", 1, stdin=io.StringIO("".join(json.dumps(c) + "\n" for c in cmds)), stdout=out)
    replies = [json.loads(line[len(pw.MARKER):]) for line in out.getvalue().splitlines()]
    hello, setup, timed, mem, bogus, bye = replies
    assert hello["ok"] and hello["version"].startswith("2.")
    assert setup["ok"] and setup["first_ms"] > 0
    assert len(timed["ms"]) == 2 and all(t > 0 for t in timed["ms"])
    assert mem["ok"] and len(mem["bytes"]) == 1
    assert not bogus["ok"] and "unknown command" in bogus["error"]
    assert bye["ok"]


def test_compare_spikes_counts_mismatches():
    a = torch.tensor([[1, 0, 1], [0, 0, 1]], dtype=torch.uint8)
    b = torch.tensor([[1, 1, 1], [0, 0, 0]], dtype=torch.uint8)
    c = peers.compare_spikes(a, b)
    assert c["mismatched"] == 2 and c["max_abs_diff"] == 1 and c["spikes_ref"] == 3 and c["spikes"] == 3
    assert "shape_mismatch" in peers.compare_spikes(a, b[:1])


def _result(lib, ms, workload="w"):
    return {"library": lib, "workload": workload, "config": "T=1 B=1 1->1", "density": 0.1, "mode": "train",
            "median_ms": ms, "min_ms": ms * 0.9, "first_ms": ms * 2, "peak_mem_mb": 1.5}


def test_ratios_and_neuron_ratios():
    rs = [_result("axonal", 30.0), _result("norse", 60.0), _result(peers.FLOOR, 20.0)]
    peers.add_ratios(rs)
    by = {r["library"]: r for r in rs}
    assert by["norse"]["ratio"] == pytest.approx(2.0)
    assert by["norse"]["neuron_ratio"] == pytest.approx(4.0)  # (60-20) / (30-20)
    assert by[peers.FLOOR]["neuron_ratio"] is None


def test_markdown_report_and_rewrite(tmp_path):
    rs = [_result("axonal", 30.0), _result("norse", 60.0), _result(peers.FLOOR, 20.0)]
    peers.add_ratios(rs)
    data = {"meta": {"date": "2026-01-01", "git_commit": "abc", "threads": 1, "rounds": 2, "reps": 3,
                     "mem_reps": 1, "quick": True, "versions": {"axonal": "0.1.0", "norse": "1.1.0"},
                     "unavailable": {"snntorch": "ImportError"},
                     "machine": {"cpu": "X", "cores": 2, "load_avg": [1.0, 1.0, 1.0]}},
            "results": rs,
            "correctness": [{"library": "norse", "config": "c", "density": 0.1, "same_input": True,
                             "mismatched": 0, "elements": 10, "spikes": 4, "spikes_ref": 4}]}
    md = peers.markdown(data)
    assert "| w | 30.0 (27.0) | 2.00x | 0.67x |" in md
    assert "| w | norse | 2.00x | — | 1.00 |" in md  # the goals table
    assert "snntorch (ImportError)" in md
    page = tmp_path / "B.md"
    page.write_text("# Title\n\nprose\n")
    peers.write_markdown(md, page)
    peers.write_markdown(md.replace("2.00x", "9.99x"), page)
    text = page.read_text()
    assert text.startswith("# Title\n\nprose\n") and text.count(peers.MD_START) == 1
    assert "9.99x" in text and "2.00x" not in text
    assert "norse" in peers.text_table(data)
