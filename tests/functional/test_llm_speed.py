"""`tokens_per_s` is the server's own generation speed where the server reports it; the figure
over the call's wall time is `e2e_tokens_per_s` (issue 21, item 6). Against a loopback server
that answers after 200 ms: queueing and latency must not leak into the generation speed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sweep_contracts.storage import MemoryStore
from tests.llm_fake import FakeModelServer, Fault
from tests.llm_helpers import run_llm

DELAY_S = 0.2


def payload(experiment: str, url: str, **config: Any) -> dict[str, Any]:
    return {
        "experiment": experiment,
        "config": {"endpoint": url, "model": "smollm2", "temperature": 0.0, "concurrency": 1, **config},
    }


def test_ollama_tokens_per_s_is_eval_count_over_eval_duration() -> None:
    # GIVEN an Ollama server that generated 3 tokens in 1.5 ms but answered after 200 ms
    with FakeModelServer(delay_s=DELAY_S).running() as server:
        _, rows = run_llm(payload("ollama", server.url), MemoryStore(), key="")
    m = rows[0]["metrics"]
    # THEN tokens_per_s is the server's 3 / 1.5 ms, and the wall-time figure has its own name
    assert m["tokens_per_s"] == pytest.approx(2000.0)
    assert m["e2e_tokens_per_s"] == pytest.approx(3 / (m["latency_ms"] / 1000))
    assert m["e2e_tokens_per_s"] < 3 / DELAY_S
    assert "server_tokens_per_s" not in m


def llama_cpp_reply(body: dict[str, Any], seen: int) -> Fault:
    """A reply shaped as llama.cpp's server (`llama-server`) gives it, `timings` included."""
    reply = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "79"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48},
        "timings": {
            "prompt_n": 40,
            "prompt_ms": 20.0,
            "prompt_per_token_ms": 0.5,
            "prompt_per_second": 2000.0,
            "predicted_n": 8,
            "predicted_ms": 160.0,
            "predicted_per_token_ms": 20.0,
            "predicted_per_second": 50.0,
        },
    }
    return Fault(200, json.dumps(reply).encode(), delay_s=DELAY_S)


def test_openai_tokens_per_s_comes_from_llama_cpp_timings() -> None:
    with FakeModelServer(behave=llama_cpp_reply).running() as server:
        _, rows = run_llm(payload("openai-chat", server.url), MemoryStore(), key="")
    m = rows[0]["metrics"]
    assert rows[0]["status"] == "ok", rows[0]["error_message"]
    assert m["tokens_per_s"] == pytest.approx(50.0)  # 8 tokens in 160 ms
    assert m["e2e_tokens_per_s"] == pytest.approx(8 / (m["latency_ms"] / 1000))
    assert m["e2e_tokens_per_s"] < 8 / DELAY_S


def test_a_server_that_reports_no_speed_gets_no_tokens_per_s() -> None:
    # GIVEN an OpenAI-compatible server without `timings` (OpenAI, vLLM, llama-cpp-python)
    with FakeModelServer(delay_s=DELAY_S).running() as server:
        _, rows = run_llm(payload("openai-chat", server.url), MemoryStore(), key="")
    m = rows[0]["metrics"]
    # THEN the generation speed is absent, not the end-to-end figure under its name
    assert "tokens_per_s" not in m
    assert m["e2e_tokens_per_s"] == pytest.approx(3 / (m["latency_ms"] / 1000))


def test_an_llm_maze_episode_reports_the_servers_speed_over_its_turns() -> None:
    # GIVEN an agent over Ollama whose every turn generated 3 tokens in 1.5 ms, answered after 200 ms
    config = {"model": "m", "protocol": "ollama", "size": 3, "temperature": 0.0, "max_moves": 3, "max_turns": 3}
    with FakeModelServer(delay_s=DELAY_S).running() as server:
        sweep = {"experiment": "llm-maze", "config": {"endpoint": server.url, **config}}
        _, rows = run_llm(sweep, MemoryStore(), key="")
    m = rows[0]["metrics"]
    assert rows[0]["status"] == "ok", rows[0]["error_message"]
    # THEN the episode's tokens_per_s is the server's, and the wall-time figure is apart
    assert m["tokens_per_s"] == pytest.approx(2000.0)
    assert m["e2e_tokens_per_s"] == pytest.approx(m["completion_tokens"] / (m["latency_ms"] / 1000))
    assert m["e2e_tokens_per_s"] < 3 / DELAY_S
