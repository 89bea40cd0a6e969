"""The LLM experiments against a loopback server that speaks Ollama's and OpenAI's chat APIs:
what each request carried, what each row recorded, and how faults become rows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sweep_contracts.errors import SweepError
from sweep_contracts.schema import OUTPUT_LIMIT
from sweep_contracts.storage import MemoryStore
from sweep_experiments.llm.http import SET_KEY_HINT
from sweep_experiments.llm.options import COMMON, OLLAMA_LOAD, OLLAMA_REQUEST
from sweep_orchestrator.submit import submit_run
from tests.helpers import runtime_for
from tests.llm_fake import FakeModelServer, Fault
from tests.llm_helpers import KEY, run_llm


def ollama_payload(url: str, **config: Any) -> dict[str, Any]:
    return {
        "experiment": "ollama",
        "config": {"endpoint": url, "model": "qwen2.5:7b", "tasks": "arithmetic", "temperature": 0.2, **config},
    }


@pytest.mark.slow
def test_many_points_at_high_concurrency_each_request_carries_its_points_options_exactly() -> None:
    # GIVEN 240 points (4 temperatures x 3 contexts x 2 top_k x 5 items x 2 repeats) in 4 shards of 60, 16 at a time
    with FakeModelServer(delay_s=0.01).running() as server:
        payload = ollama_payload(server.url, concurrency=16, keep_alive="5m", repeat_penalty=1.4)
        payload |= {
            "grid": {
                "num_ctx": [2048, 8192, 32768],
                "temperature": [0.0, 0.1, 0.5, 1.0],
                "top_k": [20, 40],
                "task_index": [0, 1, 2, 3, 4],
            },
            "repeats": 2,
            "shard_size": 60,
        }
        # WHEN it runs
        outcomes, rows = run_llm(payload, MemoryStore())
    # THEN every shard succeeded with one row per point
    assert [o["status"] for o in outcomes] == ["success"] * 4
    assert [r["point_index"] for r in rows] == list(range(240))
    assert [r["error_message"] for r in rows if r["status"] != "ok"] == []
    # AND each row's recorded options are exactly its effective config's option fields
    names = (*COMMON, *OLLAMA_REQUEST, *OLLAMA_LOAD)
    for row in rows:
        expected = {n: row["config"][n] for n in names if n in row["config"]}
        assert row["call"]["request"] == {"options": expected, "keep_alive": "5m"}
    # AND the server saw exactly those requests: options only under `options`, stream off, no bleed
    # (a request that timed out on this busy machine is sent again, as it should be: the server may
    # then have seen it twice, and the point records 2 attempts; what is guaranteed is that every
    # request was one of the points', every point's reached it, and each point used 1 to 4 attempts)
    sent = [json.dumps([b["options"], b["messages"]], sort_keys=True) for b in server.requests]
    recorded = [
        json.dumps([r["call"]["request"]["options"], [{"role": "user", "content": _prompt(r)}]], sort_keys=True)
        for r in rows
    ]
    assert set(sent) == set(recorded)
    attempts = [r["metrics"]["attempts"] for r in rows]
    assert all(1 <= a <= 4 for a in attempts)
    assert len(rows) <= len(sent) <= sum(attempts)
    assert all(b["stream"] is False and "temperature" not in b and b["keep_alive"] == "5m" for b in server.requests)
    # AND the counters are recorded in nanoseconds, with the answers scored
    assert rows[0]["metrics"]["eval_duration_ns"] == 1_500_000
    assert rows[0]["metrics"]["load_duration_ns"] == 1_000_000
    assert all(r["metrics"]["score"] == 1.0 for r in rows)


def _prompt(row: dict[str, Any]) -> str:
    from sweep_experiments.llm.tasks import builtin

    return str(builtin("arithmetic")[row["config"]["task_index"]].messages[0]["content"])  # type: ignore[index]


def test_omitted_counters_are_absent_not_zero() -> None:
    # GIVEN a server that omits every counter (as Ollama does for zero or unknown ones)
    with FakeModelServer(omit_counters=True).running() as server:
        _, rows = run_llm(ollama_payload(server.url), MemoryStore())
    # THEN the row has no counter metrics at all
    assert rows[0]["status"] == "ok"
    assert not {"total_duration_ns", "load_duration_ns", "eval_count", "eval_duration_ns"} & set(rows[0]["metrics"])


def rate_limited_once(body: dict[str, Any], seen: int) -> Fault | None:
    error = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}
    return Fault(429, json.dumps(error).encode(), {"retry-after": "0.4"}) if seen == 0 else None


def test_429_with_retry_after_is_waited_for_and_attempts_recorded() -> None:
    with FakeModelServer(behave=rate_limited_once).running() as server:
        _, rows = run_llm(ollama_payload(server.url, backoff_s=0.0), MemoryStore())
    assert rows[0]["status"] == "ok"
    assert rows[0]["metrics"]["attempts"] == 2
    assert rows[0]["duration_ms"] >= 400


def test_insufficient_quota_is_not_retried() -> None:
    error = {
        "error": {
            "message": "You exceeded your current quota",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    }
    with FakeModelServer(
        behave=lambda b, s: Fault(429, json.dumps(error).encode(), {"retry-after": "0"})
    ).running() as server:
        outcomes, rows = run_llm(ollama_payload(server.url), MemoryStore())
    assert outcomes[0]["status"] == "success"  # the shard goes on; the point is an error row
    assert rows[0]["status"] == "error"
    assert "insufficient_quota: not retried" in rows[0]["error_message"]
    assert rows[0]["metrics"] == {"attempts": 1.0}
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 404])
def test_client_errors_are_not_retried(status: int) -> None:
    body = b'{"error": "model \\"qwen2.5:7b\\" not found, try pulling it first"}'
    with FakeModelServer(behave=lambda b, s: Fault(status, body)).running() as server:
        _, rows = run_llm(ollama_payload(server.url), MemoryStore())
    assert rows[0]["error_message"] == (
        f'{server.url}/api/chat answered HTTP {status}: model "qwen2.5:7b" not found, try pulling it first'
    )
    assert len(server.requests) == 1


def test_server_busy_is_retried_until_attempts_run_out() -> None:
    with FakeModelServer(behave=lambda b, s: Fault(503, b'{"error": "server busy"}')).running() as server:
        _, rows = run_llm(ollama_payload(server.url, max_attempts=3, backoff_s=0.01), MemoryStore())
    assert rows[0]["error_message"] == f"{server.url}/api/chat answered HTTP 503: server busy after 3 attempts"
    assert rows[0]["metrics"] == {"attempts": 3.0}
    assert len(server.requests) == 3


def test_a_slow_response_hits_the_timeout() -> None:
    with FakeModelServer(delay_s=1.5).running() as server:
        _, rows = run_llm(ollama_payload(server.url, timeout_s=0.3, load_timeout_s=0.3), MemoryStore())
    assert rows[0]["status"] == "error"
    assert rows[0]["error_message"] == (
        f"{server.url}/api/chat sent no answer within 0.3 s (`load_timeout_s`, the limit of one call); not retried"
    )
    assert rows[0]["duration_ms"] < 1400


def test_malformed_json_becomes_an_error_row_with_a_clear_message() -> None:
    with FakeModelServer(behave=lambda b, s: Fault(200, b'{"message": {"content": "4"')).running() as server:
        _, rows = run_llm(ollama_payload(server.url), MemoryStore())
    assert rows[0]["error_message"] == (
        f'{server.url}/api/chat answered HTTP 200 with a body that is not JSON: \'{{"message": {{"content": "4"\''
    )


def test_a_connection_cut_mid_response_becomes_an_error_row_after_retries() -> None:
    with FakeModelServer(behave=lambda b, s: Fault(drop=True)).running() as server:
        _, rows = run_llm(ollama_payload(server.url, max_attempts=2, backoff_s=0.01), MemoryStore())
    assert rows[0]["status"] == "error"
    assert rows[0]["error_message"].startswith(
        f"{server.url}/api/chat could not be reached or broke off: RemoteProtocolError"
    )
    assert rows[0]["error_message"].endswith("after 2 attempts")


def test_an_error_reported_inside_a_200_answer_becomes_an_error_row() -> None:
    with FakeModelServer(
        behave=lambda b, s: Fault(200, b'{"error": "an error was encountered while running the model"}')
    ).running() as server:
        _, rows = run_llm(ollama_payload(server.url), MemoryStore())
    assert rows[0]["error_message"] == (
        f"{server.url}/api/chat reported an error in its answer: an error was encountered while running the model"
    )


def test_a_long_output_is_cut_at_the_limit_and_flagged() -> None:
    long = json.dumps({"message": {"role": "assistant", "content": "x" * (OUTPUT_LIMIT + 10)}, "done": True}).encode()
    with FakeModelServer(behave=lambda b, s: Fault(200, long)).running() as server:
        _, rows = run_llm(ollama_payload(server.url, tasks="counting"), MemoryStore())
    assert len(rows[0]["output"]) == OUTPUT_LIMIT
    assert rows[0]["metrics"]["output_truncated"] == 1.0
    assert rows[0]["metrics"]["output_chars"] == OUTPUT_LIMIT + 10


def openai_payload(url: str, **config: Any) -> dict[str, Any]:
    return {"experiment": "openai-chat", "config": {"endpoint": url, "model": "smollm2", "temperature": 0.0, **config}}


def test_openai_chat_records_usage_finish_reason_fingerprint_and_request_id() -> None:
    with FakeModelServer().running() as server:
        payload = openai_payload(
            server.url, max_tokens=2, max_tokens_field="max_completion_tokens", extra={"top_k": 40}
        )
        _, rows = run_llm(payload, MemoryStore())
    sent = server.requests[0]
    assert {k: v for k, v in sent.items() if k not in ("model", "messages")} == {
        "temperature": 0.0,
        "seed": 0,
        "max_completion_tokens": 2,
        "n": 1,
        "top_k": 40,
    }
    row = rows[0]
    assert row["call"]["request"] == {"temperature": 0.0, "seed": 0, "max_completion_tokens": 2, "n": 1, "top_k": 40}
    assert row["call"]["response"] == {
        "finish_reason": "stop",
        "system_fingerprint": "fp_fake",
        "request_id": "req-0",
        "model": "smollm2",
    }
    metrics = row["metrics"]
    assert (metrics["prompt_tokens"], metrics["completion_tokens"], metrics["cached_tokens"]) == (12, 3, 4)
    assert "reasoning_tokens" not in metrics  # the server gave none: absent, not 0
    assert metrics["over_limit"] == 1.0  # 3 completion tokens against a limit of 2: the server ignored it
    assert row["output"] == row["call"]["expected"]  # the loopback server answers arithmetic correctly
    assert metrics["score"] == 1.0


@pytest.mark.parametrize(("header", "sent"), [("Authorization", f"Bearer {KEY}"), ("X-API-Key", KEY)])
def test_the_api_key_goes_in_the_configured_header_and_nowhere_else(
    header: str, sent: str, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a server that rejects the key and echoes the header back in its error
    def echo(body: dict[str, Any], seen: int) -> Fault:
        return Fault(401, json.dumps({"error": f"invalid key {sent}"}).encode())

    store = MemoryStore()
    with FakeModelServer(behave=echo).running() as server:
        outcomes, rows = run_llm(ollama_payload(server.url, api_key_header=header), store)
    # THEN the header carried the key
    assert {k.lower(): v for k, v in server.headers[0].items()}[header.lower()] == sent
    # AND no object the run wrote, no outcome and no log line holds it
    # (the 401 now also says which secret was refused and how to set it: issue 21 item 4)
    assert rows[0]["error_message"] == (
        f"{server.url}/api/chat answered HTTP 401: invalid key {sent.replace(KEY, '***')} "
        f"(the `api_key` secret was refused: {SET_KEY_HINT})"
    )
    for key in store.list(""):
        assert KEY.encode() not in (store.get(key) or b""), key
    assert KEY not in json.dumps(outcomes)
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        ({"temprature": 0.5}, "config.temprature", "did you mean `temperature`?"),
        ({"model": ""}, "config.model", "at least 1 character"),
        ({"scorer": "fuzzy"}, "config.scorer", "scorer 'fuzzy' is not registered"),
        ({"tasks": "/nonexistent/set.jsonl", "tasks_sha256": "0" * 64}, "config.tasks", "cannot be read"),
        ({"task_index": 50}, "config.task_index", "`task_index` 50 is past the end of `arithmetic` (50 items: 0..49)"),
        ({"top_k": 40, "protocol": "openai"}, "config.protocol", "input should be 'ollama'"),
    ],
)
def test_submit_fails_fast_on_a_bad_llm_config(config: dict[str, Any], field: str, fragment: str) -> None:
    rt, dispatcher = runtime_for(MemoryStore())
    with pytest.raises(SweepError) as info:
        submit_run(ollama_payload("http://127.0.0.1:9", **config), rt)
    assert info.value.field == field
    assert fragment in str(info.value)
    assert dispatcher.events == []


def test_openai_chat_refuses_ollama_only_options_at_submit() -> None:
    rt, _ = runtime_for(MemoryStore())
    with pytest.raises(SweepError) as info:
        submit_run(openai_payload("http://127.0.0.1:9", repeat_penalty=1.1), rt)
    assert "`repeat_penalty` are not OpenAI chat fields and would be ignored" in str(info.value)
    assert info.value.field == "config.protocol"
