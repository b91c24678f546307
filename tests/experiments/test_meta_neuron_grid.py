"""experiments/meta_neuron.py --grid: the summary arithmetic, the CLI checks, and that a learned
run really moves its intrinsic parameters (a tiny real run of one grid point)."""
import pytest

from experiments import meta_neuron, meta_neuron_grid


@pytest.fixture(scope="module")
def mods():
    return meta_neuron, meta_neuron_grid


def test_summary_per_point_and_grid_mean_are_known_values(mods):
    _, g = mods
    rows = []
    for seed, base in ((0, 0.5), (1, 0.7)):
        for i, point in enumerate(g.GRID):
            if "tempotron" in g.GRID[point]:
                # learned = fixed + 0.1 at the first point, - 0.1 at the second, equal elsewhere
                d = {0: 0.1, 1: -0.1}.get(i, 0.0)
                rows.append(dict(task="t", seed=seed, point=point, **{"tempotron/fixed": base,
                                                                       "tempotron/learned": base + d}))
    res = g.summarise(rows, ["t"])["t"]["tempotron"]
    first, second = list(g.GRID)[:2]
    assert res[first]["delta"] == pytest.approx(0.1) and res[first]["seeds_up"] == 2
    assert res[second]["delta"] == pytest.approx(-0.1) and res[second]["seeds_up"] == 0
    assert res[first]["fixed"] == pytest.approx(0.6) and res[first]["fixed_std"] == pytest.approx(0.1414, abs=1e-4)
    gm = res["grid_mean"]
    n_points = sum("tempotron" in v for v in g.GRID.values())
    assert gm["points"] == n_points and gm["points_up"] == 1
    assert gm["delta"] == pytest.approx(0.0, abs=1e-12) and gm["fixed"] == pytest.approx(0.6)
    assert "| tempotron |" in g.markdown({"t": {"tempotron": res}})


def test_grid_is_defined_for_known_models_and_parameters(mods):
    m, g = mods
    for point, models in g.GRID.items():
        assert set(models) <= set(g.RULES), point
        for model, init in models.items():
            assert set(init) <= set(m.REFERENCE[model]), (point, model)
    assert all(g.GRID["default"][k] == {} for k in g.RULES)   # the reference = the main tables


def test_cli_rejects_bad_combinations(mods):
    m, _ = mods
    with pytest.raises(SystemExit):
        m.main(["--resume"])                     # grid-mode option without --grid
    with pytest.raises(SystemExit):
        m.main(["--grid", "--tasks", "mnist"])   # unknown task
    with pytest.raises(SystemExit):
        m.main(["--grid", "--intrinsic-lr", "0"])


def test_learned_intrinsics_move_and_fixed_ones_do_not(mods):
    m, g = mods
    data = m.task("digits01", 0, 20, 20)
    row = g.run_point(m, data, 0, "high_threshold", epochs=1, bs=10, intrinsic_lr=0.1)
    for rule in ("bptt/lif", "stdp/lif", "bptt/meta", "stdp/meta", "tempotron"):
        assert 0.0 <= row[f"{rule}/fixed"] <= 1.0 and 0.0 <= row[f"{rule}/learned"] <= 1.0
        info = row["intrinsics"][rule]
        assert info["initial"]["threshold"] == pytest.approx(3.0, rel=1e-4)
        moved = [k for k in info["initial"] if abs(info["final"][k] - info["initial"][k]) > 1e-3]
        assert moved, (rule, info)
    info = {}
    m.run_bptt("lif", False, data, 0, 1, 10, dict(threshold=3.0), 0.1, info)
    assert info["final"] == info["initial"]
