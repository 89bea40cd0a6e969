"""`llm-maze`: an LLM agent solves a seeded maze (the `maze` experiment's generator) by tool calls,
over Ollama's `/api/chat` or an OpenAI-compatible `/v1/chat/completions` (`protocol`).

Tools: `look()` names the open directions, `move(direction)` moves one cell (north, east, south,
west), `recall()` lists the cells visited so far. The agent's limits are the seeds' system
settings, here ordinary config: the transcript keeps only the last `recall_interval` turns (older
ones are forgotten: `recall` is how the agent gets its path back), `recall` answers at most
`max_recall_actions` times, and the episode ends after `max_moves` move calls, `max_turns` model
calls or `max_duration_s` seconds. Ending on a limit is a result (`solved` 0, and `hit_*` says
which), not an error; a failed call (after retries) is an error row. Keep an episode within the
shard's time: `max_duration_s` below the worker's time budget.

A reply without a tool call is answered with a reminder (`no_tool_turns`); if its text names
exactly one action ("move north", "look"), that action is taken (`text_actions`), since small
models often answer in prose. Malformed or unknown tool calls count as `tool_errors`."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from sweep_contracts.experiments import Evaluation, EvaluationError, Experiment, Objective
from sweep_contracts.schema import clip_output
from sweep_experiments.llm.chat import ChatResult, chat, tool_message
from sweep_experiments.llm.http import CallError
from sweep_experiments.llm.options import GenerationOptions
from sweep_experiments.maze import Maze

DIRECTIONS = {"north": (1, -1, 0), "east": (2, 0, 1), "south": (4, 1, 0), "west": (8, 0, -1)}
_TEXT_ACTION = re.compile(r"\b(north|east|south|west|look|recall)\b", re.IGNORECASE)


def _tool(name: str, description: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if properties:
        params["required"] = list(properties)
    return {"type": "function", "function": {"name": name, "description": description, "parameters": params}}


TOOLS = [
    _tool("look", "List the open directions from your cell."),
    _tool("move", "Move one cell.", {"direction": {"type": "string", "enum": list(DIRECTIONS)}}),
    _tool("recall", "List the cells you have visited."),
]


class LlmMazeConfig(GenerationOptions):
    """The maze, the agent's limits, and the model's endpoint and options."""

    size: int = Field(default=4, ge=2, le=41, description="Cells per side.")
    loops: float = Field(default=0.0, ge=0.0, le=1.0, description="Fraction of dead ends opened into loops.")
    maze_seed: int | None = Field(default=None, description="Seeds the maze; default: `seed`.")
    max_moves: int = Field(default=40, ge=1, le=10_000, description="Move calls before the episode ends.")
    max_turns: int = Field(default=60, ge=1, le=10_000, description="Model calls before the episode ends.")
    max_duration_s: float = Field(default=120.0, gt=0, le=3600, description="Wall time before the episode ends.")
    recall_interval: int = Field(default=10, ge=1, description="Turns the transcript keeps.")
    max_recall_actions: int = Field(default=5, ge=0, description="`recall` calls answered per episode.")


class _Episode:
    def __init__(self, cfg: LlmMazeConfig) -> None:
        self.cfg = cfg
        self.maze = Maze(cfg.size, cfg.seed if cfg.maze_seed is None else cfg.maze_seed, cfg.loops)
        self.pos = 0
        self.path = [0]
        self.counts = dict.fromkeys(
            ("moves", "wall_bumps", "recalls", "tool_errors", "no_tool_turns", "text_actions"), 0
        )
        self.log: list[str] = []

    def where(self) -> str:
        row, col = divmod(self.pos, self.cfg.size)
        opened = [d for d, (bit, _, _) in DIRECTIONS.items() if self.maze.walls_open[self.pos] & bit]
        return f"You are at row {row}, column {col}. Open directions: {', '.join(opened)}."

    def act(self, name: str, args: Mapping[str, Any]) -> str:
        if name == "look":
            self.log.append("look")
            return self.where()
        if name == "recall":
            if self.counts["recalls"] >= self.cfg.max_recall_actions:
                self.counts["tool_errors"] += 1
                return f"recall refused: the limit of {self.cfg.max_recall_actions} recalls is reached."
            self.counts["recalls"] += 1
            self.log.append("recall")
            cells = ", ".join(f"({c // self.cfg.size},{c % self.cfg.size})" for c in dict.fromkeys(self.path))
            return f"Visited cells (row,column), in order: {cells}. {self.where()}"
        if name == "move" and args.get("direction") in DIRECTIONS:
            direction = str(args["direction"])
            bit, dr, dc = DIRECTIONS[direction]
            self.counts["moves"] += 1
            if not self.maze.walls_open[self.pos] & bit:
                self.counts["wall_bumps"] += 1
                self.log.append(f"{direction}:wall")
                return f"A wall blocks {direction}. {self.where()}"
            self.pos += dr * self.cfg.size + dc
            self.path.append(self.pos)
            self.log.append(direction)
            return "You reached the exit!" if self.pos == self.maze.goal else f"Moved {direction}. {self.where()}"
        self.counts["tool_errors"] += 1
        return (
            f"Unknown tool call {name}({dict(args)}): use look(), move(direction: north|east|south|west) or recall()."
        )


def _system(cfg: LlmMazeConfig) -> str:
    last = cfg.size - 1
    return (
        f"You are in a maze of {cfg.size}x{cfg.size} cells. Start: row 0, column 0. Exit: row {last}, column {last}. "
        "Rows grow to the south, columns to the east. Call exactly one tool per turn: look, move or recall."
    )


def _sum(results: list[ChatResult], attr: str) -> float | None:
    values = [getattr(r, attr) for r in results if getattr(r, attr) is not None]
    return float(sum(values)) if values else None


def run(cfg: LlmMazeConfig, secrets: Mapping[str, str]) -> Evaluation:
    episode = _Episode(cfg)
    head = [
        {"role": "system", "content": _system(cfg)},
        {"role": "user", "content": episode.where() + " Find the exit."},
    ]
    turns: list[list[dict[str, Any]]] = []
    results: list[ChatResult] = []
    started = time.monotonic()
    hit = ""
    while episode.pos != episode.maze.goal:
        if episode.counts["moves"] >= cfg.max_moves:
            hit = "max_moves"
        elif len(results) >= cfg.max_turns:
            hit = "max_turns"
        elif time.monotonic() - started >= cfg.max_duration_s:
            hit = "max_duration"
        if hit:
            break
        transcript = head + [m for turn in turns[-cfg.recall_interval :] for m in turn]
        try:
            result = chat(cfg, transcript, secrets.get("api_key"), TOOLS)
        except CallError as exc:
            attempts = sum(r.attempts for r in results) + float(exc.metrics.get("attempts", 0))
            raise EvaluationError(
                f"turn {len(results) + 1}: {exc}", {"turns": len(results), "attempts": attempts}
            ) from None
        results.append(result)
        turn: list[dict[str, Any]] = [result.message]
        calls = result.tool_calls[:1]  # one action per turn, as the prompt says
        if calls:
            call = calls[0]
            if not call.ok:
                episode.counts["tool_errors"] += 1
            turn.append(tool_message(cfg, call, episode.act(call.name, call.arguments)))
        else:
            episode.counts["no_tool_turns"] += 1
            found = {m.lower() for m in _TEXT_ACTION.findall(result.content)}
            if len(found) == 1:
                word = found.pop()
                episode.counts["text_actions"] += 1
                name, args = ("move", {"direction": word}) if word in DIRECTIONS else (word, {})
                reply = episode.act(name, args)
            else:
                reply = "Call one tool: look(), move(direction) or recall(). " + episode.where()
            turn.append({"role": "user", "content": reply})
        turns.append(turn)
    return _evaluation(cfg, episode, results, time.monotonic() - started, hit)


def _evaluation(
    cfg: LlmMazeConfig, episode: _Episode, results: list[ChatResult], seconds: float, hit: str
) -> Evaluation:
    solved = episode.pos == episode.maze.goal
    optimal = episode.maze.shortest_path()
    moves = len(episode.path) - 1
    metrics: dict[str, float] = {
        "solved": float(solved),
        "moves": float(moves),
        "optimal_length": float(optimal),
        "efficiency": optimal / moves if solved and moves else 0.0,
        "coverage": len(set(episode.path)) / episode.maze.cells,
        "revisits": float(len(episode.path) - len(set(episode.path))),
        "turns": float(len(results)),
        "attempts": float(sum(r.attempts for r in results)),
        "latency_ms": float(sum(r.latency_ms for r in results)),
        "duration_s": seconds,
        **{k: float(v) for k, v in episode.counts.items() if k != "moves"},
        "move_calls": float(episode.counts["moves"]),
        **{f"hit_{name}": float(hit == name) for name in ("max_moves", "max_turns", "max_duration")},
    }
    for attr in ("prompt_tokens", "completion_tokens"):
        if (total := _sum(results, attr)) is not None:
            metrics[attr] = total
    if "completion_tokens" in metrics and metrics["latency_ms"] > 0:
        metrics["e2e_tokens_per_s"] = metrics["completion_tokens"] / (metrics["latency_ms"] / 1000)
    if results and all(r.generated_tokens and r.generation_s for r in results):
        # the server's generation speed over the episode, only when every turn reported it
        generated = sum(r.generated_tokens or 0 for r in results)
        metrics["tokens_per_s"] = generated / sum(r.generation_s or 0 for r in results)
    if results:
        metrics["latency_ms_per_turn"] = metrics["latency_ms"] / len(results)
    output, truncated = clip_output(" ".join(episode.log))
    metrics["output_truncated"] = float(truncated)
    call = {
        "protocol": cfg.protocol,
        "request": results[0].call["request"] if results else {},
        "stopped_by": hit or "exit",
    }
    return Evaluation(metrics=metrics, output=output, call=call)


EXPERIMENT = Experiment(
    name="llm-maze",
    config_model=LlmMazeConfig,
    run=run,
    description="An LLM agent solves a seeded maze by tool calls (look, move, recall) over Ollama or OpenAI chat.",
    objective=Objective("solved", "max"),
    metrics=(
        "solved",
        "moves",
        "optimal_length",
        "efficiency",
        "turns",
        "tool_errors",
        "completion_tokens",
        "latency_ms",
        "tokens_per_s",
        "e2e_tokens_per_s",
    ),
    secrets=("api_key",),
    io_bound=True,
)
