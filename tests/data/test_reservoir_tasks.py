"""Reservoir tasks and scores: NARMA against a direct loop, delay-line memory capacity, Mackey-Glass."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from axonal.data.reservoir_tasks import (
    as_time_major,
    mackey_glass,
    mackey_glass_prediction,
    memory_capacity_task,
    narma,
    narma10,
)
from axonal.metrics.reservoir import memory_capacity, nrmse, ridge_fit, ridge_predict


def narma_direct(u, n=10):
    """The textbook loop: y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{n-1} y(t-i) + 1.5 u(t-n+1) u(t) + 0.1."""
    T = len(u)
    y = np.zeros(T + 1)          # y[t] = y(t), y(0) = 0
    for t in range(T):
        s = sum(y[t - i] for i in range(n) if t - i >= 0)
        u_old = u[t - n + 1] if t - n + 1 >= 0 else 0.0
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * s + 1.5 * u_old * u[t] + 0.1
    return y[1:]


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 400), st.integers(0, 10_000), st.sampled_from([2, 5, 10]))
def test_narma_running_sum_equals_direct_loop(T, seed, order):
    u = np.random.default_rng(seed).uniform(0, 0.5, T)
    np.testing.assert_allclose(narma(u, order), narma_direct(u, order), rtol=1e-12, atol=1e-12)


def test_narma10_is_seeded_and_bounded():
    a, b = narma10(2000, seed=3), narma10(2000, seed=3)
    assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.targets, b.targets)
    assert not np.array_equal(a.inputs, narma10(2000, seed=4).inputs)
    assert a.targets[0] == pytest.approx(0.1)          # y(1) = 0.1 from zero history
    assert 0.1 <= a.targets.min() and a.targets.max() < 1.5
    assert 0 <= a.inputs.min() and a.inputs.max() <= 0.5


def test_narma_divergence_is_reported():
    with pytest.raises(ValueError, match="diverged"):
        narma(np.full(200, 3.0), 10)


def delay_line(u, n):
    return np.stack([np.concatenate([np.zeros(k), u[: len(u) - k]]) for k in range(1, n + 1)], 1)


@pytest.mark.parametrize("n", [5, 20])
def test_memory_capacity_of_a_delay_line_equals_its_length(n):
    task = memory_capacity_task(3000, max_delay=40, seed=0)
    mc, prof = memory_capacity(delay_line(task.inputs, n), task.inputs, 40, return_profile=True)
    assert mc == pytest.approx(n, abs=0.1)
    assert np.allclose(prof[:n], 1.0, atol=1e-6)
    assert np.all(prof[n:] < 0.02)


def test_memory_capacity_task_targets_are_delayed_inputs():
    t = memory_capacity_task(100, max_delay=3, seed=1)
    assert np.array_equal(t.targets[5:, 2], t.inputs[2:-3])
    assert np.all(t.targets[0] == 0)


def test_memory_capacity_of_noise_states_is_small():
    task = memory_capacity_task(3000, max_delay=20, seed=0)
    noise = np.random.default_rng(1).normal(size=(3000, 10))
    assert memory_capacity(noise, task.inputs, 20) < 0.2


def test_ridge_recovers_a_linear_map_and_nrmse_scores_it():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    W = np.array([[1.0], [-2.0], [0.5], [0.0]])
    y = X @ W + 3.0
    Wfit = ridge_fit(X, y, alpha=0.0)
    np.testing.assert_allclose(Wfit[:-1], W, atol=1e-10)
    assert Wfit[-1, 0] == pytest.approx(3.0)
    assert nrmse(y, ridge_predict(X, Wfit)) == pytest.approx(0.0, abs=1e-10)
    assert nrmse(y[:, 0], np.full(500, y.mean())) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="constant"):
        nrmse(np.ones(5), np.zeros(5))


def test_mackey_glass_converges_to_its_fixed_point_for_a_short_delay():
    # beta / gamma = 2, n = 10: the equilibrium x* = (beta/gamma - 1)^(1/n) = 1 is stable for small tau
    x = mackey_glass(300, tau=2.0, washout=300.0)
    assert np.allclose(x[-50:], 1.0, atol=1e-4)


def test_mackey_glass_tau17_is_chaotic_bounded_and_converges_in_dt():
    x = mackey_glass(1000, tau=17.0)
    assert 0.2 < x.min() < 0.6 and 1.1 < x.max() < 1.45
    assert x.std() > 0.15                          # not settled on a fixed point
    # RK4 at two step sizes agrees over a short horizon (before chaos separates them)
    a = mackey_glass(60, tau=17.0, dt=0.1, washout=0.0, seed=None)   # same constant history
    b = mackey_glass(60, tau=17.0, dt=0.05, washout=0.0, seed=None)
    assert np.max(np.abs(a - b)) < 1e-3


def test_mackey_glass_prediction_pairs_and_checks():
    t = mackey_glass_prediction(100, horizon=5)
    x = mackey_glass(105)
    assert np.array_equal(t.inputs, x[:100]) and np.array_equal(t.targets, x[5:])
    with pytest.raises(ValueError, match="multiple of dt"):
        mackey_glass(10, tau=17.03)


def test_as_time_major_shapes():
    assert as_time_major(np.zeros(7)).shape == (7, 1, 1)
    assert as_time_major(np.zeros((7, 3))).shape == (7, 1, 3)
    assert as_time_major(np.zeros(7)).dtype == torch.float32
