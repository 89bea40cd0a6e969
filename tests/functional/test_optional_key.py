"""The API key is optional (issue 21 item 4): without `SWEEP_SECRET_API_KEY` a local run sends no
auth header instead of failing every shard; a server that wants a key gets an error row naming the
secret and how to set it; `api_key_required: true` still fails fast; and locally the key goes only
where `SWEEP_SECRET_API_KEY_ENDPOINTS` says (else to loopback only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.llm_fake import FakeModelServer, Fault

pytestmark = pytest.mark.slow  # each test is a `sweep run` in a process of its own

SWEEP = str(Path(sys.executable).with_name("sweep"))
KEY = "Lk3Vb8Qw5Yt1Hn6Jd2Mc"


def sweep_run(tmp_path: Path, config: dict[str, Any], env: dict[str, str]) -> tuple[int, str, list[tuple[Any, ...]]]:
    """`sweep run` in a process of its own: exit code, output, and (status, error_message) per row."""
    file = tmp_path / "sweep.json"
    payload = {"experiment": "ollama", "config": {"model": "m", **config}, "grid": {"task_index": [0, 1]}}
    file.write_text(json.dumps(payload))
    out = tmp_path / "out"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SWEEP_SECRET_")}
    done = subprocess.run(  # noqa: PLW1510 - the caller judges the return code
        [SWEEP, "run", str(file), "--out", str(out), "-w", "1", "-q"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    points = [str(p) for p in out.rglob("*.parquet") if "points" in p.parts]
    got = (
        duckdb.connect()
        .execute("select status, error_message from read_parquet(?) order by point_index", [points])
        .fetchall()
        if points
        else []
    )
    return done.returncode, done.stdout + done.stderr, got


def auth_headers(server: FakeModelServer) -> list[str]:
    return [v for h in server.headers for k, v in h.items() if k.lower() in ("authorization", "x-api-key")]


def test_without_a_key_a_local_run_sends_no_auth_header_and_its_rows_are_ok(tmp_path: Path) -> None:
    # GIVEN a keyless server on loopback and no SWEEP_SECRET_API_KEY
    with FakeModelServer().running() as server:
        # WHEN a sweep runs against it
        code, output, got = sweep_run(tmp_path, {"endpoint": server.url}, {})
    # THEN it succeeds: every row ok, every call made, none with an auth header
    assert (code, got) == (0, [("ok", None), ("ok", None)]), output
    assert len(server.requests) == 2
    assert auth_headers(server) == []


def test_a_server_that_wants_a_key_gives_rows_naming_the_secret_and_how_to_set_it(tmp_path: Path) -> None:
    with FakeModelServer(behave=lambda body, seen: Fault(401, b'{"error": "unauthorized"}')).running() as server:
        code, output, got = sweep_run(tmp_path, {"endpoint": server.url, "max_attempts": 1}, {})
    message = (
        f"{server.url}/api/chat answered HTTP 401: unauthorized (no `api_key` secret is set, so none was sent: "
        "locally, set SWEEP_SECRET_API_KEY in the environment of `sweep run`; on a stage, "
        "`sweep params set-secret --stage <stage> api_key`)"
    )
    assert (code, got) == (1, [("error", message), ("error", message)]), output  # every point failed: `failed`


def test_a_required_key_that_is_missing_fails_before_any_call(tmp_path: Path) -> None:
    with FakeModelServer().running() as server:
        code, output, got = sweep_run(tmp_path, {"endpoint": server.url, "api_key_required": True}, {})
    # THEN the shard failed SECRET_UNAVAILABLE naming the variable, and the server saw no call
    outcomes = [str(p) for p in (tmp_path / "out").rglob("*.parquet") if "outcomes" in p.parts]
    failed = duckdb.connect().execute("select error_code, error_message from read_parquet(?)", [outcomes]).fetchall()
    assert code == 1, output
    assert failed
    assert {c for c, _ in failed} == {"SECRET_UNAVAILABLE"}
    assert "SWEEP_SECRET_API_KEY is not set" in failed[0][1]
    assert (got, server.requests) == ([], [])


def test_locally_the_key_goes_only_to_the_endpoints_the_user_listed(tmp_path: Path) -> None:
    # GIVEN a key the user lets go to one server only, and a sweep file that names another
    with FakeModelServer().running() as mine, FakeModelServer().running() as theirs:
        env = {"SWEEP_SECRET_API_KEY": KEY, "SWEEP_SECRET_API_KEY_ENDPOINTS": mine.url}
        code, output, got = sweep_run(tmp_path, {"endpoint": theirs.url}, env)
    # THEN the other server sees no call at all, and each row names the variable that would allow it
    assert theirs.requests == []
    port = theirs.url.rsplit(":", 1)[1]
    message = (
        f"secret `api_key` may not be sent to endpoint http://127.0.0.1:{port} (allowed: {mine.url}); a settings "
        "admin allows an endpoint in `SWEEP_SECRET_API_KEY_ENDPOINTS` (comma-separated `https://host[:port]`); "
        "no call was made"
    )
    assert (code, got) == (1, [("error", message), ("error", message)]), output  # every point failed: `failed`


def test_locally_a_key_reaches_a_listed_endpoint(tmp_path: Path) -> None:
    with FakeModelServer().running() as mine:
        env = {"SWEEP_SECRET_API_KEY": KEY, "SWEEP_SECRET_API_KEY_ENDPOINTS": mine.url}
        code, output, got = sweep_run(tmp_path, {"endpoint": mine.url}, env)
    assert (code, got) == (0, [("ok", None), ("ok", None)]), output
    assert auth_headers(mine) == [f"Bearer {KEY}"] * 2
