"""Generated reasoning tasks of the Continuous Thought Machine paper (Darlow et al. 2025), seeded.

- :func:`parity_batch`: sequences of ``L`` values in {-1, +1}; the target at position ``i`` is the
  parity of the number of ``-1`` among positions ``0..i`` (the CTM repository's cumulative parity).
- :func:`make_maze` / :func:`maze_batch`: perfect mazes on an ``n x n`` cell grid carved by a
  seeded depth-first search, drawn as a ``(2n+1) x (2n+1)`` wall grid; start at the top-left
  cell, goal at a random other cell; the target is the first ``route_len`` moves of the unique
  route (0 up, 1 down, 2 left, 3 right, 4 = already at the goal), found by breadth-first search.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch

__all__ = ["parity_batch", "make_maze", "maze_route", "maze_batch", "MOVES"]

MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))   # up, down, left, right (in cells)


def parity_batch(batch: int, length: int, generator: torch.Generator):
    """``(x [B, L] in {-1, 1}, y [B, L] cumulative parity in {0, 1})``."""
    if length < 1 or batch < 1:
        raise ValueError(f"parity_batch needs batch >= 1 and length >= 1, got {batch}, {length}")
    bits = torch.randint(0, 2, (batch, length), generator=generator)
    return 1.0 - 2.0 * bits.float(), bits.cumsum(1) % 2


def make_maze(n: int, rng: np.random.Generator) -> np.ndarray:
    """Wall grid ``[(2n+1), (2n+1)]`` (1 = wall) of a perfect maze on ``n x n`` cells."""
    if n < 2:
        raise ValueError(f"a maze needs n >= 2 cells per side, got {n}")
    grid = np.ones((2 * n + 1, 2 * n + 1), dtype=np.int8)
    seen = np.zeros((n, n), dtype=bool)
    stack = [(0, 0)]
    seen[0, 0] = True
    grid[1, 1] = 0
    while stack:
        r, c = stack[-1]
        nbrs = [(r + dr, c + dc) for dr, dc in MOVES if 0 <= r + dr < n and 0 <= c + dc < n and not seen[r + dr, c + dc]]
        if not nbrs:
            stack.pop()
            continue
        nr, nc = nbrs[rng.integers(len(nbrs))]
        grid[2 * r + 1 + (nr - r), 2 * c + 1 + (nc - c)] = 0
        grid[2 * nr + 1, 2 * nc + 1] = 0
        seen[nr, nc] = True
        stack.append((nr, nc))
    return grid


def maze_route(grid: np.ndarray, start: tuple, goal: tuple) -> list[int]:
    """Moves (indices into :data:`MOVES`) of the shortest cell route from ``start`` to ``goal``."""
    n = (grid.shape[0] - 1) // 2
    prev = {start: None}
    q = deque([start])
    while q:
        cell = q.popleft()
        if cell == goal:
            break
        r, c = cell
        for m, (dr, dc) in enumerate(MOVES):
            nr, nc = r + dr, c + dc
            if 0 <= nr < n and 0 <= nc < n and grid[2 * r + 1 + dr, 2 * c + 1 + dc] == 0 and (nr, nc) not in prev:
                prev[(nr, nc)] = (cell, m)
                q.append((nr, nc))
    moves, cell = [], goal
    while prev[cell] is not None:
        cell, m = prev[cell]
        moves.append(m)
    return moves[::-1]


def maze_batch(batch: int, n: int, route_len: int, rng: np.random.Generator):
    """``(features [B, (2n+1)^2, 5], moves [B, route_len])``: per grid square (wall, start, goal,
    row, column scaled to [0, 1]); moves padded with 4 once the goal is reached."""
    size = 2 * n + 1
    rr, cc = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    feats = np.zeros((batch, size * size, 5), dtype=np.float32)
    moves = np.full((batch, route_len), 4, dtype=np.int64)
    for b in range(batch):
        grid = make_maze(n, rng)
        goal = (0, 0)
        while goal == (0, 0):
            goal = (int(rng.integers(n)), int(rng.integers(n)))
        route = maze_route(grid, (0, 0), goal)[:route_len]
        moves[b, :len(route)] = route
        f = np.zeros((size, size, 5), dtype=np.float32)
        f[..., 0] = grid
        f[1, 1, 1] = 1
        f[2 * goal[0] + 1, 2 * goal[1] + 1, 2] = 1
        f[..., 3] = rr / (size - 1)
        f[..., 4] = cc / (size - 1)
        feats[b] = f.reshape(-1, 5)
    return torch.from_numpy(feats), torch.from_numpy(moves)
