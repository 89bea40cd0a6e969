"""The LLM experiments against model servers that misbehave for real on loopback (issue 20, items 5
and 6): answers too large, endless or compressed into a bomb, answers trickled a byte at a time,
servers that never answer, and a warm worker that runs hostile and then healthy shards."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from sweep_contracts.experiments import Registry
from sweep_contracts.storage import MemoryStore
from sweep_experiments.llm import http
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import tasks_for
from tests.hostile_http import (
    HostileServer,
    endless_chunks,
    gzip_bomb,
    hang,
    head,
    huge_body,
    ollama_reply,
    send,
    trickle,
)
from tests.llm_fake import FakeModelServer, Fault
from tests.llm_helpers import KEY, rows, run_llm

CAP = 8 * 1024 * 1024  # the documented limit, written out so that this file states it


def ollama_payload(url: str, **config: Any) -> dict[str, Any]:
    return {
        "experiment": "ollama",
        "config": {"endpoint": url, "model": "m", "tasks": "arithmetic", "max_attempts": 1, **config},
    }


@contextmanager
def peak_bytes() -> Iterator[list[int]]:
    """The peak of Python allocations in the block (bytes objects a decoder makes included), after
    one healthy point has run so that what a first run imports is not counted."""
    with FakeModelServer().running() as server:
        run_llm(ollama_payload(server.url), MemoryStore())
    tracemalloc.start()
    got: list[int] = []
    try:
        yield got
    finally:
        got.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def one_row(server: HostileServer, **config: Any) -> dict[str, Any]:
    with server.running():
        _, got = run_llm(ollama_payload(server.url, **config), MemoryStore())
    assert len(got) == 1
    return got[0]


def test_the_documented_limits() -> None:
    assert http.MAX_RESPONSE_BYTES == CAP
    assert http.MAX_FIELD_CHARS == 256


def close_delimited(total: int) -> Callable[[HostileServer, BaseHTTPRequestHandler], None]:
    """A huge answer with no length at all: it ends when the server closes the connection."""

    def script(server: HostileServer, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("connection", "close")
        handler.end_headers()
        send(server, handler, b'{"message": {"role": "assistant", "content": "')
        block = b"x" * 65536
        while server.sent < total:
            send(server, handler, block)
        send(server, handler, b'"}, "done": true}')

    return script


@pytest.mark.parametrize(("script", "where"), [(huge_body, "declared 33,554,432 bytes"), (close_delimited, "as sent")])
def test_a_huge_answer_stops_at_the_limit(script: Callable[[int], Any], where: str) -> None:
    # GIVEN a server that answers 32 MiB of valid JSON, with or without a content-length
    server = HostileServer(script(4 * CAP))
    # WHEN a point calls it
    with peak_bytes() as peak:
        row = one_row(server)
    # THEN the point is an error row naming the endpoint and the limit, and far less was held
    assert row["status"] == "error"
    assert row["error_message"] == (
        f"{server.url}/api/chat sent an answer over the limit of 8,388,608 bytes ({where}; "
        "sweep_experiments.llm.http.MAX_RESPONSE_BYTES); not read further, not retried"
    )
    assert peak[0] < 2.5 * CAP
    assert server.sent < 4 * CAP


def test_an_endless_chunked_answer_stops_at_the_limit() -> None:
    server = HostileServer(endless_chunks)
    started = time.monotonic()
    row = one_row(server)
    assert row["error_message"] == (
        f"{server.url}/api/chat sent an answer over the limit of 8,388,608 bytes (as sent; "
        "sweep_experiments.llm.http.MAX_RESPONSE_BYTES); not read further, not retried"
    )
    assert time.monotonic() - started < 15
    assert server.sent < 64 * 1024 * 1024  # the server stopped long before its own bound of 256 MiB


def test_a_gzip_bomb_stops_at_the_limit_after_decompression() -> None:
    # GIVEN ~256 KB of gzip that inflates to 256 MiB (32 times the limit)
    data, script = gzip_bomb(256 * 1024 * 1024)
    assert len(data) < CAP / 8
    server = HostileServer(script)
    with peak_bytes() as peak:
        row = one_row(server)
    assert row["error_message"] == (
        f"{server.url}/api/chat sent an answer over the limit of 8,388,608 bytes (after decompression; "
        "sweep_experiments.llm.http.MAX_RESPONSE_BYTES); not read further, not retried"
    )
    assert peak[0] < 2.5 * CAP


def test_a_gzipped_answer_within_the_limit_is_read() -> None:
    import gzip

    body = gzip.compress(ollama_reply("7", pad="y" * 200_000))

    def script(server: HostileServer, handler: BaseHTTPRequestHandler) -> None:
        head(handler, content_encoding="gzip", content_length=str(len(body)))
        send(server, handler, body)

    row = one_row(HostileServer(script), task_index=0)
    assert row["status"] == "ok", row["error_message"]
    assert row["output"] == "7"


@pytest.mark.parametrize(
    ("in_headers", "message"),
    [
        (
            False,
            "did not finish its answer within 1.5 s (`load_timeout_s`, the limit of one call from connect "
            "to the last byte); not retried",
        ),
        (True, "sent no answer within 1.5 s (`load_timeout_s`, the limit of one call); not retried"),
    ],
)
def test_a_trickled_answer_ends_at_the_calls_time_limit(in_headers: bool, message: str) -> None:
    # GIVEN a server that sends one byte every 0.25 s (each read succeeds: no read timeout trips)
    server = HostileServer(trickle(0.25, in_headers=in_headers, limit=24))
    started = time.monotonic()
    row = one_row(server, timeout_s=1.5, load_timeout_s=1.5)
    # THEN the call ends at its limit, naming it, not when the server is done
    assert row["error_message"] == f"{server.url}/api/chat {message}"
    assert time.monotonic() - started < 3.5
    assert row["duration_ms"] < 2500


def test_a_huge_text_field_is_cut_in_call_json() -> None:
    # GIVEN a valid answer whose `model` is 5 MB of text
    body = ollama_reply("7", model="m" * 5_000_000)

    def script(server: HostileServer, handler: BaseHTTPRequestHandler) -> None:
        head(handler, content_length=str(len(body)))
        send(server, handler, body)

    row = one_row(HostileServer(script), task_index=0)
    # THEN the row is scored, and keeps 256 characters of the field, saying how long it was
    assert row["status"] == "ok"
    assert row["call"]["response"]["model"] == "m" * 256 + "... (cut: 5,000,000 characters, over the limit of 256)"
    assert len(row["call_json"]) < 2000


def shard_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("shard-")]


def settle(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    return check()


@pytest.mark.slow
def test_a_warm_worker_keeps_nothing_from_hanging_shards_and_serves_a_healthy_one_fully() -> None:
    # GIVEN one warm worker (one process, the handler called again and again), three shards of 64
    # points at concurrency 64 against a server that never answers, each with a 2 s budget
    before = len(shard_threads())
    settings = {"shard_time_budget_s": 2, "time_budget_margin_ms": 1000}
    store = MemoryStore()
    deps = WorkerDeps(store=store, registry=Registry.default(), secrets=lambda names: dict.fromkeys(names, KEY))
    with HostileServer(hang).running() as bad, FakeModelServer().running() as good:
        hostile = ollama_payload(bad.url, concurrency=64, timeout_s=20, load_timeout_s=20)
        hostile |= {"grid": {"task_index": list(range(32))}, "repeats": 2}
        for run_id in ("hang-1", "hang-2", "hang-3"):
            outcome = process_event(tasks_for(hostile, run_id, settings=settings).event(0), deps)
            assert (outcome["status"], outcome["points_ok"]) == ("failure", 0)
        assert len(bad.requests) > 64
        # WHEN a shard against a healthy server runs next in the same worker
        healthy = ollama_payload(good.url, concurrency=4) | {"grid": {"task_index": [0, 1, 2, 3]}}
        fresh = MemoryStore()
        outcome = process_event(
            tasks_for(healthy, "healthy", settings=settings).event(0), dataclasses.replace(deps, store=fresh)
        )
        # THEN it gets every point
        assert (outcome["status"], outcome["points_ok"]) == ("success", 4)
        assert [r["status"] for r in rows(fresh)] == ["ok"] * 4
        # AND no thread or connection of the hostile shards outlived them
        assert settle(lambda: len(shard_threads()) == before), shard_threads()
        assert settle(lambda: bad.open_connections == 0), bad.open_connections


# Answers of the wrong kind (issue 20, item 8)


def test_an_unfinished_ollama_answer_is_an_error_row_not_scored() -> None:
    # GIVEN an Ollama answer that says it is not done, without a reason (the content is the right answer)
    unfinished = b'{"model": "m", "message": {"role": "assistant", "content": "79"}, "done": false}'
    with FakeModelServer(behave=lambda b, s: Fault(200, unfinished)).running() as server:
        _, got = run_llm(ollama_payload(server.url, task_index=0), MemoryStore())
    # THEN the point is an error row naming why, with no score
    assert got[0]["status"] == "error"
    assert got[0]["error_message"] == (
        f"{server.url}/api/chat answered an unfinished reply (`done` is false, `done_reason` is None): not scored"
    )
    assert got[0]["metrics"] == {"attempts": 1.0}


@pytest.mark.parametrize(
    ("body", "field", "got"),
    [
        ({"choices": ["4"]}, "choices[0]", "'4'"),
        ({"choices": [{"message": "4"}]}, "choices[0].message", "'4'"),
        ({"choices": [{"message": {"content": "4", "tool_calls": ["x"]}}]}, "choices[0].message.tool_calls[0]", "'x'"),
        ({"choices": [{"message": {"content": "4", "tool_calls": "x"}}]}, "choices[0].message.tool_calls", "'x'"),
        ({"choices": [{"message": {"content": "4"}}], "usage": [3]}, "usage", "[3]"),
    ],
)
def test_wrong_shaped_openai_json_names_the_endpoint_and_the_field(body: dict[str, Any], field: str, got: str) -> None:
    payload = {"experiment": "openai-chat", "config": {"endpoint": "", "model": "m", "max_attempts": 1}}
    with FakeModelServer(behave=lambda b, s: Fault(200, json.dumps(body).encode())).running() as server:
        payload["config"]["endpoint"] = server.url
        _, rows_ = run_llm(payload, MemoryStore())
    expected = "an object" if not field.endswith("tool_calls") else "a list"
    assert rows_[0]["error_message"] == (
        f"{server.url}/v1/chat/completions answered JSON of the wrong shape: `{field}` must be {expected}, got {got}"
    )
    assert rows_[0]["metrics"] == {"attempts": 1.0}


def test_wrong_shaped_ollama_tool_calls_name_the_field() -> None:
    body = b'{"model": "m", "message": {"role": "assistant", "content": "", "tool_calls": [{"function": 3}]}, "done": true}'
    with FakeModelServer(behave=lambda b, s: Fault(200, body)).running() as server:
        _, got = run_llm(ollama_payload(server.url), MemoryStore())
    assert got[0]["error_message"] == (
        f"{server.url}/api/chat answered JSON of the wrong shape: `message.tool_calls[0].function` must be an "
        "object, got 3"
    )


def test_a_redirect_names_its_location() -> None:
    elsewhere = "https://elsewhere.example/api/chat"
    with FakeModelServer(behave=lambda b, s: Fault(307, b"", {"location": elsewhere})).running() as server:
        _, got = run_llm(ollama_payload(server.url), MemoryStore())
    assert got[0]["error_message"] == (
        f"{server.url}/api/chat answered HTTP 307: a redirect to {elsewhere} (not followed: set `endpoint` to the "
        "address the server answers at)"
    )


# A user's pattern (issue 20, item 9)


def test_a_catastrophic_pattern_cannot_hold_the_worker() -> None:
    # GIVEN a reply of 28 `a`s and `!`, and the pattern `^(a+)+$` (exponential for a backtracking engine)
    reply = ollama_reply("a" * 28 + "!")

    def script(server: HostileServer, handler: BaseHTTPRequestHandler) -> None:
        head(handler, content_length=str(len(reply)))
        send(server, handler, reply)

    row = one_row(HostileServer(script), scorer="regex", scorer_args={"pattern": "^(a+)+$"})
    # THEN it is scored at once: no match
    assert row["status"] == "ok", row["error_message"]
    assert row["metrics"]["score"] == 0.0
    assert row["duration_ms"] < 1000


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        (
            {"scorer": "regex", "scorer_args": {"pattern": "(?<=a)b"}},
            "config.scorer_args",
            "`scorer_args.pattern` '(?<=a)b' is not a pattern the `regex` scorer can run: invalid perl "
            "operator: (?<= (patterns run on RE2, in linear time: no look-around or back-references; "
            "rewrite it without them)",
        ),
        (
            {
                "scorer": "regex",
                "tasks": "inline",
                "task_items": [{"messages": [{"role": "user", "content": "hi"}], "expected": "(a)\\1"}],
            },
            "config.scorer_args",
            "`expected` of task item 0 '(a)\\\\1' is not a pattern the `regex` scorer can run: invalid escape "
            "sequence: \\1 (patterns run on RE2, in linear time: no look-around or back-references; "
            "rewrite it without them)",
        ),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_at_submit(config: dict[str, Any], field: str, message: str) -> None:
    from sweep_contracts.errors import SweepError
    from sweep_orchestrator.submit import submit_run
    from tests.helpers import runtime_for

    rt, dispatcher = runtime_for(MemoryStore())
    with pytest.raises(SweepError) as info:
        submit_run(ollama_payload("http://127.0.0.1:9", **config), rt)
    assert info.value.field == field
    assert message in str(info.value)
    assert dispatcher.events == []


# A dead endpoint (issue 21, item 3)


def closed_port() -> str:
    """A loopback address with nothing listening (bound, then closed: connections are refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_shard_stops_calling_an_endpoint_that_refuses_connections() -> None:
    # GIVEN a shard of 10 points, one at a time, against a port with nothing listening
    url = closed_port()
    payload = ollama_payload(url, concurrency=1, max_attempts=2, backoff_s=0.01) | {
        "grid": {"task_index": list(range(10))},
        "shard_size": 10,
    }
    started = time.monotonic()
    outcomes, got = run_llm(payload, MemoryStore())
    # THEN the first 3 (the default `stop_after_connect_failures`) try, and the other 7 are error rows at once
    assert [o["status"] for o in outcomes] == ["success"]
    assert [r["error_type"] for r in got] == ["CallError"] * 10
    assert [r["metrics"]["attempts"] for r in got] == [2.0] * 3 + [0.0] * 7
    assert got[0]["error_message"].startswith(f"{url}/api/chat could not be reached or broke off: ConnectError")
    assert {r["error_message"] for r in got[3:]} == {
        f"{url}/api/chat was not called: the shard's last 3 calls to {url} could not connect "
        "(`stop_after_connect_failures`: 3). Start the server or correct `endpoint`, then `sweep retry` the run"
    }
    assert time.monotonic() - started < 10


def sweep_run(
    tmp_path: Path, config: dict[str, Any], grid: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """`sweep run` of a 3-point ollama sweep (or `grid`'s), in a real subprocess."""
    path = tmp_path / "sweep.json"
    sweep = {"experiment": "ollama", "config": {"model": "m", **config}, "grid": grid or {"task_index": [0, 1, 2]}}
    path.write_text(json.dumps(sweep))
    command = [sys.executable, "-m", "sweep_cli", "run", str(path), "--out", str(tmp_path / "out"), "-w", "1"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_a_local_run_against_a_dead_endpoint_exits_2_before_any_shard(tmp_path: Path) -> None:
    url = closed_port()
    started = time.monotonic()
    done = sweep_run(tmp_path, {"endpoint": url})
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"the model server at {url} cannot be reached (ConnectError on GET {url}/api/tags)" in done.stderr
    assert "start it (`ollama serve`) or correct `endpoint`, then run again" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list((tmp_path / "out").glob("**/points/**/*.parquet"))
    assert time.monotonic() - started < 60


def test_a_local_run_of_a_model_the_server_lacks_exits_2_listing_what_it_serves(tmp_path: Path) -> None:
    with FakeModelServer(models=("llama3.2:latest", "qwen2.5:7b")).running() as server:
        done = sweep_run(tmp_path, {"endpoint": server.url, "model": "mistral"})
        assert server.requests == []  # no chat call was made
    assert done.returncode == 2, done.stderr[-2000:]
    message = " ".join(done.stderr.split())
    assert f"error: {server.url} does not serve the model 'mistral'; it serves: llama3.2:latest, qwen2.5:7b." in message
    assert "hint: set `model` to one of them, or `ollama pull mistral`, or start a server with that model" in message
    assert "Traceback" not in done.stderr


def test_a_model_axis_is_probed_value_by_value(tmp_path: Path) -> None:
    # GIVEN a sweep over two models, the second not served
    with FakeModelServer(models=("m",)).running() as server:
        done = sweep_run(tmp_path, {"endpoint": server.url}, {"model": ["m", "mistral"]})
        assert server.requests == []
    # THEN the run stops before any shard, naming the missing one
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"{server.url} does not serve the model 'mistral'; it serves: m." in " ".join(done.stderr.split())
