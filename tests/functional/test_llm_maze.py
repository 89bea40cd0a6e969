"""`llm-maze` over both protocols against the loopback server, whose agent walks at random."""

from __future__ import annotations

from typing import Any

import pytest

from sweep_contracts.storage import MemoryStore
from tests.llm_fake import FakeModelServer
from tests.llm_helpers import run_llm


def maze_payload(url: str, protocol: str, **config: Any) -> dict[str, Any]:
    return {
        "experiment": "llm-maze",
        "config": {"endpoint": url, "model": "m", "protocol": protocol, "size": 3, "temperature": 0.0, **config},
        "repeats": 2,
    }


@pytest.mark.parametrize("protocol", ["ollama", "openai"])
def test_an_agent_walks_the_maze_by_tool_calls(protocol: str) -> None:
    # GIVEN a 3x3 maze, a model that moves at random, and room for 200 moves
    with FakeModelServer().running() as server:
        # WHEN two episodes run
        _, rows = run_llm(maze_payload(server.url, protocol, max_moves=200, max_turns=400), MemoryStore())
    # THEN both solve it by tool calls, with maze metrics plus turns, tokens and latency
    for row in rows:
        m = row["metrics"]
        assert row["status"] == "ok", row["error_message"]
        assert m["solved"] == 1.0
        assert m["turns"] == m["move_calls"] > 0
        assert m["tool_errors"] == 0
        assert m["no_tool_turns"] == 0
        assert 0 < m["efficiency"] <= 1
        assert m["moves"] == m["move_calls"] - m["wall_bumps"]
        assert m["latency_ms"] > 0
        assert row["call"]["stopped_by"] == "exit"
    # AND every request offered the three tools
    assert all([t["function"]["name"] for t in b["tools"]] == ["look", "move", "recall"] for b in server.requests)


def test_hitting_max_moves_is_a_result_not_an_error() -> None:
    with FakeModelServer().running() as server:
        _, rows = run_llm(maze_payload(server.url, "ollama", size=8, max_moves=3), MemoryStore())
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all(r["metrics"]["solved"] == 0.0 and r["metrics"]["hit_max_moves"] == 1.0 for r in rows)
    assert all(r["metrics"]["move_calls"] == 3 for r in rows)


def test_the_transcript_keeps_only_recall_interval_turns() -> None:
    with FakeModelServer().running() as server:
        run_llm(maze_payload(server.url, "openai", size=8, max_moves=12, recall_interval=2), MemoryStore())
    # system + first user message + at most 2 turns of (assistant, tool) messages
    assert max(len(b["messages"]) for b in server.requests) == 2 + 2 * 2
