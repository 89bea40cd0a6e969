"""The CLI's stage client against a real loopback HTTP server that answers 503 / 429 before 200, and
one that is not there at all: idempotent calls are retried with a visible line, others are not
(issue 22, item 3)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sweep_cli.errors import RemoteError, StageUnreachableError
from sweep_cli.stage.remote import RetryPolicy, StageClient
from sweep_cli.stage.resolve import StageInfo

FAST = RetryPolicy(attempts=5, total_s=10.0, base_s=0.01, cap_s=0.05)


class ScriptedApi:
    """Answers each request with the next status of `script` (then 200 for good), and records it."""

    def __init__(self, script: list[int]) -> None:
        self.script, self.seen = list(script), []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.seen.append((self.command, self.path, body))
                status = api.script.pop(0) if api.script else 200
                payload = {"run_id": "r-1", "state": "running"} if status == 200 else {"message": "Service Unavailable"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve  # noqa: N815 - names http.server looks up

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def scripted(aws_env: None) -> Iterator[ScriptedApi]:
    api = ScriptedApi([])
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


def client_for(url: str, policy: RetryPolicy = FAST) -> StageClient:
    return StageClient(StageInfo(name="custom", api_url=url, region="us-east-1"), retry=policy)


def test_a_status_poll_outlasts_503_and_429_with_a_visible_line(
    scripted: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an API that answers 503, then 429, then 200
    scripted.script = [503, 429]
    # WHEN the CLI polls a run's status
    answer = client_for(scripted.url).status("r-1")
    # THEN it gets the answer on the third try, having said so twice on stderr
    assert answer == {"run_id": "r-1", "state": "running"}
    assert [s[:2] for s in scripted.seen] == [("GET", "/runs/r-1")] * 3
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("retrying GET /runs/r-1 (HTTP 503, attempt 2 of 5, in ")
    assert lines[1].startswith("retrying GET /runs/r-1 (HTTP 429, attempt 3 of 5, in ")
    assert all(line.endswith(" s)") for line in lines)


def test_submit_with_a_run_id_is_retried(scripted: ScriptedApi) -> None:
    scripted.script = [502]
    body = {"experiment": "synthetic", "run_id": "r-1"}
    assert client_for(scripted.url).submit(body)["run_id"] == "r-1"
    # the same body twice: the stage keeps one run per run_id
    assert [(m, p, json.loads(b)) for m, p, b in scripted.seen] == [("POST", "/runs", body)] * 2


def test_submit_without_a_run_id_is_not_retried(scripted: ScriptedApi, capsys: pytest.CaptureFixture[str]) -> None:
    # a second POST without run_id could start a second run
    scripted.script = [503]
    with pytest.raises(RemoteError) as info:
        client_for(scripted.url).submit({"experiment": "synthetic"})
    assert info.value.http_status == 503
    assert len(scripted.seen) == 1
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/runs/r-1/retry"), ("POST", "/runs/r-1/retry?force=true"), ("PUT", "/settings")]
)
def test_calls_that_are_not_idempotent_are_sent_once(scripted: ScriptedApi, method: str, path: str) -> None:
    scripted.script = [503]
    with pytest.raises(RemoteError):
        client_for(scripted.url).request(method, path, {"worker_concurrency": 10} if method == "PUT" else None)
    assert [s[:2] for s in scripted.seen] == [(method, path)]


def test_a_client_error_is_not_retried(scripted: ScriptedApi) -> None:
    scripted.script = [404]
    with pytest.raises(RemoteError):
        client_for(scripted.url).status("r-1")
    assert len(scripted.seen) == 1


def test_attempts_are_bounded_and_the_last_error_is_raised(
    scripted: ScriptedApi, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.script = [503] * 10
    with pytest.raises(RemoteError) as info:
        client_for(scripted.url, RetryPolicy(attempts=3, total_s=10.0, base_s=0.01, cap_s=0.05)).status("r-1")
    assert info.value.http_status == 503
    assert len(scripted.seen) == 3
    assert len(capsys.readouterr().err.splitlines()) == 2


def test_total_time_is_bounded(scripted: ScriptedApi) -> None:
    # the waits (0.3 s each) would outlast the 0.5 s budget after the second try
    scripted.script = [503] * 10
    with pytest.raises(RemoteError):
        client_for(scripted.url, RetryPolicy(attempts=10, total_s=0.5, base_s=0.3, cap_s=0.3)).status("r-1")
    assert 2 <= len(scripted.seen) <= 3


def test_a_refused_connection_is_retried_then_reported(aws_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a loopback port nobody listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StageUnreachableError):
        client_for(f"http://127.0.0.1:{port}", RetryPolicy(attempts=3, total_s=10.0, base_s=0.01, cap_s=0.05)).status(
            "r-1"
        )
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["retrying GET /runs/r-1"] * 2
    assert "connection failed, attempt 2 of 3, in " in lines[0]


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
