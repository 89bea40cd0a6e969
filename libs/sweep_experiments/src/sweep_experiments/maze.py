"""`maze`: a seeded maze and an agent that tries to solve it within `max_moves`.

The maze is a perfect maze (recursive backtracker) of `size` x `size` cells, optionally with
loops (a fraction of dead ends opened up). The agent starts in the top-left cell; the goal is the
bottom-right cell. The maze depends only on `seed`, so every strategy of one repeat faces the
same maze; the agent's own randomness is seeded separately.

Strategies:

- `wall-follower`: keeps its right hand on the wall. Always solves these mazes (start and goal
  are on the outer wall), rarely by the shortest path.
- `random-walk`: picks a random open direction each move.
- `dfs-recall`: depth-first search that heads toward the goal first, with limited recall: it
  remembers only its last `short_memory` cells until it *recalls* (every `recall_interval`
  moves), when everything it has seen enters its long-term memory. Between recalls it can
  wander back into corridors it has already explored. `recall_interval: 1` is a perfect DFS.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sweep_contracts.experiments import Experiment, Objective

Strategy = Literal["wall-follower", "random-walk", "dfs-recall"]

# Directions clockwise, as (wall bit, row step, column step).
_DIRS = ((1, -1, 0), (2, 0, 1), (4, 1, 0), (8, 0, -1))
_OPPOSITE = {1: 4, 2: 8, 4: 1, 8: 2}


class MazeConfig(BaseModel):
    """Settings of one maze run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(default=21, ge=2, le=301, description="Cells per side.")
    strategy: Strategy = Field(default="dfs-recall", description="The solving agent.")
    max_moves: int = Field(default=1000, ge=1, le=10_000_000, description="Moves before the agent gives up.")
    recall_interval: int = Field(default=10, ge=1, description="dfs-recall: moves between recalls.")
    short_memory: int = Field(default=3, ge=1, description="dfs-recall: recent cells remembered between recalls.")
    loops: float = Field(default=0.0, ge=0.0, le=1.0, description="Fraction of dead ends opened into loops.")
    seed: int = Field(default=0, description="Seeds the maze (and, derived from it, the agent).")


class Maze:
    """Cells are numbered row * size + column; `walls_open[cell]` holds the open direction bits."""

    def __init__(self, size: int, seed: int, loops: float = 0.0) -> None:
        self.size = size
        self.cells = size * size
        self.goal = self.cells - 1
        rng = random.Random(seed)
        open_bits = [0] * self.cells
        visited = bytearray(self.cells)
        visited[0] = 1
        stack = [0]
        while stack:
            cell = stack[-1]
            fresh = [(bit, nxt) for bit, nxt in self._around(cell) if not visited[nxt]]
            if not fresh:
                stack.pop()
                continue
            bit, nxt = fresh[rng.randrange(len(fresh))]
            open_bits[cell] |= bit
            open_bits[nxt] |= _OPPOSITE[bit]
            visited[nxt] = 1
            stack.append(nxt)
        if loops > 0:
            for cell in range(self.cells):
                if open_bits[cell].bit_count() == 1 and rng.random() < loops:
                    closed = [(bit, nxt) for bit, nxt in self._around(cell) if not open_bits[cell] & bit]
                    bit, nxt = closed[rng.randrange(len(closed))]
                    open_bits[cell] |= bit
                    open_bits[nxt] |= _OPPOSITE[bit]
        # counted in the maze the agent faces, after `loops` opened some: before, `loops` never changed it
        self.dead_ends = sum(1 for bits in open_bits if bits.bit_count() == 1)
        self.walls_open = open_bits
        self.neighbours = [tuple(nxt for bit, nxt in self._around(c) if open_bits[c] & bit) for c in range(self.cells)]

    def _around(self, cell: int) -> list[tuple[int, int]]:
        row, col = divmod(cell, self.size)
        return [
            (bit, (row + dr) * self.size + col + dc)
            for bit, dr, dc in _DIRS
            if 0 <= row + dr < self.size and 0 <= col + dc < self.size
        ]

    def shortest_path(self) -> int:
        """Moves on the shortest path from start to goal (breadth-first search)."""
        dist = [-1] * self.cells
        dist[0] = 0
        queue = deque([0])
        while queue:
            cell = queue.popleft()
            if cell == self.goal:
                return dist[cell]
            for nxt in self.neighbours[cell]:
                if dist[nxt] < 0:
                    dist[nxt] = dist[cell] + 1
                    queue.append(nxt)
        raise AssertionError("a generated maze is always connected")


class _Walk:
    """Bookkeeping shared by the agents."""

    def __init__(self) -> None:
        self.pos = 0
        self.moves = 0
        self.seen = {0}
        self.recalls = 0

    def step(self, cell: int) -> None:
        self.pos = cell
        self.moves += 1
        self.seen.add(cell)


def _wall_follower(maze: Maze, max_moves: int) -> _Walk:
    walk, heading, size = _Walk(), 1, maze.size
    while walk.pos != maze.goal and walk.moves < max_moves:
        for turn in (1, 0, 3, 2):  # right, straight, left, back
            d = (heading + turn) % 4
            bit, dr, dc = _DIRS[d]
            if maze.walls_open[walk.pos] & bit:
                heading = d
                walk.step(walk.pos + dr * size + dc)
                break
    return walk


def _random_walk(maze: Maze, max_moves: int, rng: random.Random) -> _Walk:
    walk = _Walk()
    while walk.pos != maze.goal and walk.moves < max_moves:
        options = maze.neighbours[walk.pos]
        walk.step(options[rng.randrange(len(options))])
    return walk


def _dfs_recall(maze: Maze, cfg: MazeConfig, rng: random.Random) -> _Walk:
    walk, size = _Walk(), maze.size
    goal_row, goal_col = divmod(maze.goal, size)
    known: set[int] = {0}
    since_recall: list[int] = []
    recent: deque[int] = deque([0], maxlen=cfg.short_memory + 1)
    stack: list[int] = []
    while walk.pos != maze.goal and walk.moves < cfg.max_moves:
        fresh = [n for n in maze.neighbours[walk.pos] if n not in known and n not in recent]
        if fresh:
            nxt = min(fresh, key=lambda n: (abs(goal_row - n // size) + abs(goal_col - n % size), rng.random()))
            stack.append(walk.pos)
        elif stack:
            nxt = stack.pop()
        else:  # lost: nothing new in reach and no way back remembered
            options = maze.neighbours[walk.pos]
            nxt = options[rng.randrange(len(options))]
        walk.step(nxt)
        recent.append(nxt)
        since_recall.append(nxt)
        if walk.moves % cfg.recall_interval == 0:
            known.update(since_recall)
            since_recall.clear()
            walk.recalls += 1
    return walk


def run(cfg: MazeConfig) -> dict[str, float]:
    maze = Maze(cfg.size, cfg.seed, cfg.loops)
    agent_rng = random.Random(f"agent:{cfg.seed}")
    if cfg.strategy == "wall-follower":
        walk = _wall_follower(maze, cfg.max_moves)
    elif cfg.strategy == "random-walk":
        walk = _random_walk(maze, cfg.max_moves, agent_rng)
    else:
        walk = _dfs_recall(maze, cfg, agent_rng)
    optimal = maze.shortest_path()
    solved = walk.pos == maze.goal
    return {
        "solved": float(solved),
        "moves": float(walk.moves),
        "optimal_length": float(optimal),
        "efficiency": optimal / walk.moves if solved and walk.moves else 0.0,
        "coverage": len(walk.seen) / maze.cells,
        "revisits": float(walk.moves + 1 - len(walk.seen)),
        "recalls": float(walk.recalls),
        "dead_ends": float(maze.dead_ends),
    }


EXPERIMENT = Experiment(
    name="maze",
    config_model=MazeConfig,
    run=run,
    description="Seeded maze; wall-follower, random-walk or depth-first-with-limited-recall agents.",
    objective=Objective("efficiency", "max"),
    metrics=("solved", "moves", "optimal_length", "efficiency", "coverage", "revisits", "recalls", "dead_ends"),
)
