"""CTM tasks: parity targets, perfect mazes and their routes."""
import numpy as np
import torch

from axonal.data.reasoning import MOVES, make_maze, maze_batch, maze_route, parity_batch


def test_parity_targets():
    x, y = parity_batch(4, 9, torch.Generator().manual_seed(0))
    for b in range(4):
        for i in range(9):
            assert y[b, i] == int((x[b, : i + 1] < 0).sum()) % 2


def test_maze_is_perfect_and_route_walks_through_open_squares():
    rng = np.random.default_rng(0)
    for _ in range(5):
        n = 4
        g = make_maze(n, rng)
        # perfect maze on n*n cells: a spanning tree, n*n - 1 open passages between cells
        passages = sum(g[2 * r + 1 + dr, 2 * c + 1 + dc] == 0 for r in range(n) for c in range(n)
                       for dr, dc in MOVES[1::2] if r + dr < n and c + dc < n)
        assert passages == n * n - 1
        route = maze_route(g, (0, 0), (n - 1, n - 1))
        r, c = 0, 0
        for m in route:
            dr, dc = MOVES[m]
            assert g[2 * r + 1 + dr, 2 * c + 1 + dc] == 0
            r, c = r + dr, c + dc
        assert (r, c) == (n - 1, n - 1)


def test_maze_batch_is_seeded():
    a = maze_batch(3, 3, 5, np.random.default_rng(7))
    b = maze_batch(3, 3, 5, np.random.default_rng(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (3, 49, 5) and a[1].shape == (3, 5)
