"""The worker's log lines: JSON with the keys Powertools' Logger wrote, so that CloudWatch Logs
Insights queries keep working after the worker stopped importing it (issue 13, cold start)."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from sweep_worker import logs

LAMBDA_CONTEXT = SimpleNamespace(
    function_name="sweep-dev-worker",
    memory_limit_in_mb=1769,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:sweep-dev-worker",
    aws_request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
)


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    monkeypatch.setattr(logs, "_started", [])
    root = logging.getLogger(logs.ROOT)
    saved = (root.handlers, root.propagate, root.level)
    logs.configure("sweep-worker")
    yield out
    root.handlers, root.propagate, root.level = saved
    logs.end_invocation()


def records(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_the_invocations_context(
    lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a worker invocation with X-Ray tracing on
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    logs.begin_invocation(LAMBDA_CONTEXT)
    # WHEN a sweep module logs twice, and once after the invocation
    logging.getLogger("sweep.worker").info("shard %s/%s already succeeded", "run-1", 3)
    logging.getLogger("sweep.outcomes").warning("second")
    logs.end_invocation()
    logging.getLogger("sweep.worker").info("between invocations")
    first, second, after = records(lines)
    # THEN every key Powertools wrote is there, with the invocation's values
    assert first["message"] == "shard run-1/3 already succeeded"
    assert (first["level"], first["service"], first["name"]) == ("INFO", "sweep-worker", "sweep.worker")
    assert str(first["location"]).startswith("test_a_record_is_one_json_line_with_the_invocations_context:")
    assert first["cold_start"] is True
    assert first["function_name"] == "sweep-dev-worker"
    assert first["function_memory_size"] == 1769
    assert first["function_arn"] == LAMBDA_CONTEXT.invoked_function_arn
    assert first["function_request_id"] == LAMBDA_CONTEXT.aws_request_id
    assert first["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert str(first["timestamp"])[:4].isdigit()
    assert "," in str(first["timestamp"])
    assert (second["level"], second["name"]) == ("WARNING", "sweep.outcomes")
    # AND no record outside an invocation carries its context
    assert "function_request_id" not in after
    assert "cold_start" not in after


def test_only_the_first_invocation_of_an_environment_is_its_cold_start(lines: io.StringIO) -> None:
    for _ in range(2):
        logs.begin_invocation(LAMBDA_CONTEXT)
        logging.getLogger("sweep.worker").info("shard done")
        logs.end_invocation()
    assert [r["cold_start"] for r in records(lines)] == [True, False]


def test_an_exception_is_logged_with_its_name_and_traceback(lines: io.StringIO) -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        logging.getLogger("sweep.worker").exception("shard failed")
    (record,) = records(lines)
    assert record["exception_name"] == "ValueError"
    assert "ValueError: bad value" in str(record["exception"])


def test_the_level_comes_from_the_stage_and_debug_stays_out_at_info(
    lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    logging.getLogger("sweep.worker").debug("noise")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    handler = logs.configure().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(lines)  # pytest put its own stdout back between the fixture and the test
    logging.getLogger("sweep.worker").info("still noise")
    logging.getLogger("sweep.worker").warning("kept")
    assert [r["message"] for r in records(lines)] == ["kept"]
    assert len(logging.getLogger(logs.ROOT).handlers) == 1


def test_invocations_side_by_side_keep_their_own_context(lines: io.StringIO) -> None:
    # GIVEN two invocations in two threads of one process (tests, a notebook)
    first_begun, second_done = threading.Event(), threading.Event()

    def first() -> None:
        logs.begin_invocation(SimpleNamespace(aws_request_id="first"))
        first_begun.set()
        second_done.wait(10)
        logging.getLogger("sweep.worker").info("first logs after the second ended")
        logs.end_invocation()

    def second() -> None:
        first_begun.wait(10)
        logs.begin_invocation(SimpleNamespace(aws_request_id="second"))
        logs.end_invocation()
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # THEN the second's end did not take the first's context away
    (record,) = records(lines)
    assert record["function_request_id"] == "first"
