"""Run states that match the rows (issue 21, item 2): a run is `succeeded` only when every point is
ok, `completed with errors` (with the count, exit 3) when some rows are errors, and `failed` when
none is ok — in `sweep run`'s summary, `sweep runs`, `sweep status` (local and on a stage), the
exit code and the report's header."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sweep_contracts.outcomes import record_outcome
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.status import run_status
from sweep_orchestrator.submit import submit_run
from tests.cloud import Stage
from tests.functional.test_status_reader import SWEEP, _success
from tests.helpers import runtime_for
from tests.llm_helpers import run_llm

SUCCEEDED_COLOUR = "#187a2f"


def sweep(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The `sweep` command in its own process, as a user runs it (no key: a local keyless server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWEEP_")}
    env |= {"COLUMNS": "200", "SWEEP_SECRET_API_KEY": ""}
    return subprocess.run(  # noqa: PLW1510 - the caller judges the return code
        [sys.executable, "-m", "sweep_cli", *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then released (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def header_state(html: str) -> tuple[str, str]:
    """The report header's state cell: (its CSS class, its text)."""
    match = re.search(r"<tr><th>state</th><td class='([^']*)'>([^<]*)</td></tr>", html)
    assert match, html[:2000]
    return match.group(1), match.group(2)


def css_colour(html: str, css_class: str) -> str | None:
    match = re.search(r"\." + re.escape(css_class) + r"\{color:([^};]+)\}", html)
    return match.group(1) if match else None


def runs_state(stdout: str, run_id: str) -> list[str]:
    """The cells of `run_id`'s row in `sweep runs`."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0] == run_id:
            return cells
    raise AssertionError(stdout)


def write(path: Path, sweep_file: dict[str, Any]) -> str:
    path.write_text(json.dumps(sweep_file))
    return str(path)


class _DiesAfterTheProbe(BaseHTTPRequestHandler):
    """Lists model `m` to the pre-run probe, then hangs up on every call without an answer."""

    def do_GET(self) -> None:
        body = json.dumps({"models": [{"name": "m", "model": "m"}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.close_connection = True  # no status line: the client sees the server disconnect

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_a_run_against_a_server_that_is_down_is_failed_everywhere(tmp_path: Path) -> None:
    # GIVEN an LLM sweep against a server that passes the pre-run probe (issue 21 item 3) and then
    # answers no call: every call fails, every row is an error
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DiesAfterTheProbe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    file = write(
        tmp_path / "down.json",
        {
            "experiment": "ollama",
            "run_id": "down",
            "config": {"endpoint": f"http://127.0.0.1:{server.server_address[1]}", "model": "m", "backoff_s": 0.01},
            "grid": {"temperature": [0.0, 0.7], "task_index": [0, 1]},
        },
    )
    # WHEN it runs
    try:
        ran = sweep("run", file, "--out", "out", "-w", "1", cwd=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    # THEN the run ends `failed` with exit 1 (not "succeeded", not exit 3)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "run down (ollama)  failed\n" in ran.stdout
    assert "points  0 ok, 4 error, 0 not run of 4" in ran.stdout
    assert "succeeded" not in ran.stdout.split("run down (ollama)")[1].split("\n")[0]
    # AND `sweep runs` lists it as failed
    listed = sweep("runs", "--out", "out", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert runs_state(listed.stdout, "down")[5:8] == ["failed", "0", "4"]
    # AND `sweep status` says failed, as text and as JSON, and exits 1
    status = sweep("status", "down", "--out", "out", cwd=tmp_path)
    assert status.returncode == 1
    assert status.stdout.startswith("run down (ollama)  failed\n")
    as_json = sweep("status", "down", "--out", "out", "--json", cwd=tmp_path)
    assert (as_json.returncode, json.loads(as_json.stdout)["state"]) == (1, "failed")
    # AND the report's header shows it failed, in red
    report = sweep("report", "down", "--out", "out", "--no-open", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "out" / "report-down.html").read_text()
    assert header_state(html) == ("state-failed", "failed")
    assert css_colour(html, "state-failed") == "#b00"


@pytest.mark.slow
def test_a_run_with_some_error_rows_is_completed_with_errors_and_their_count(tmp_path: Path) -> None:
    # GIVEN a sweep whose points at fail_rate 1.0 raise (3 of 6) and the others return metrics
    file = write(
        tmp_path / "some.json",
        {
            "experiment": "synthetic",
            "run_id": "some",
            "config": {"y": 0.5},
            "grid": {"fail_rate": [0.0, 1.0], "x": [0.1, 0.2, 0.3]},
        },
    )
    label = "completed with errors: 3 of 6 points failed"
    # WHEN it runs
    ran = sweep("run", file, "--out", "out", "-w", "1", cwd=tmp_path)
    # THEN it ends in the new state, with the count, and exit 3 (docs/guide/iterating.md: "completed with errors")
    assert ran.returncode == 3, ran.stdout + ran.stderr
    assert f"run some (synthetic)  {label}\n" in ran.stdout
    # AND `sweep runs` shows the same words and count
    listed = sweep("runs", "--out", "out", cwd=tmp_path)
    assert runs_state(listed.stdout, "some")[5:8] == [label, "3", "3"]
    # AND `sweep status` too, exiting 3; its JSON state is the machine form of the same words
    status = sweep("status", "some", "--out", "out", cwd=tmp_path)
    assert (status.returncode, status.stdout.split("\n")[0]) == (3, f"run some (synthetic)  {label}")
    as_json = json.loads(sweep("status", "some", "--out", "out", "--json", cwd=tmp_path).stdout)
    assert (as_json["state"], as_json["points_error"], as_json["points_ok"]) == ("completed_with_errors", 3, 3)
    # AND the report's header says so in a colour that is not the success green
    assert sweep("report", "some", "--out", "out", "--no-open", cwd=tmp_path).returncode == 0
    html = (tmp_path / "out" / "report-some.html").read_text()
    assert header_state(html) == ("state-completed_with_errors", label)
    assert css_colour(html, "state-completed_with_errors") == "#c60"  # the orange of `partial`, not green


@pytest.mark.slow
def test_a_run_whose_every_point_is_ok_is_still_succeeded(tmp_path: Path) -> None:
    # GIVEN a sweep none of whose points raises
    file = write(
        tmp_path / "all-ok.json",
        {"experiment": "synthetic", "run_id": "all-ok", "config": {"y": 0.5}, "grid": {"x": [0.1, 0.2]}},
    )
    # WHEN it runs THEN it succeeded, exit 0, green in the report
    ran = sweep("run", file, "--out", "out", "-w", "1", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "run all-ok (synthetic)  succeeded\n" in ran.stdout
    assert sweep("report", "all-ok", "--out", "out", "--no-open", cwd=tmp_path).returncode == 0
    html = (tmp_path / "out" / "report-all-ok.html").read_text()
    assert header_state(html) == ("state-succeeded", "succeeded")
    assert css_colour(html, "state-succeeded") == SUCCEEDED_COLOUR


def test_the_stage_reports_the_same_states(stage: Stage) -> None:
    # GIVEN on the moto stage, one run with some error rows and one whose every point raises
    some = {
        "experiment": "synthetic",
        "run_id": "some-1",
        "config": {"y": 0.5},
        "grid": {"fail_rate": [0.0, 1.0], "x": [0.1, 0.2]},
    }
    every = {
        "experiment": "synthetic",
        "run_id": "every-1",
        "config": {"y": 0.5, "fail_rate": 1.0},
        "grid": {"x": [0.1, 0.2]},
    }
    for sweep_file in (some, every):
        assert stage.call("POST", "/runs", sweep_file)[0] == 202
    # WHEN every shard runs
    stage.run_all()
    # THEN GET /runs/{id} says completed_with_errors (with its count) and failed, every shard having succeeded
    code, body = stage.call("GET", "/runs/some-1")
    assert (code, body["state"], body["points_error"], body["points_ok"]) == (200, "completed_with_errors", 2, 2)
    code, body = stage.call("GET", "/runs/every-1")
    assert (code, body["state"], body["points_error"], body["shards_failure"]) == (200, "failed", 2, 0)


def test_an_llm_run_with_every_row_an_error_is_failed_in_process() -> None:
    # GIVEN every shard ran, but the endpoint was down for every call
    store = MemoryStore()
    payload = {
        "experiment": "ollama",
        "run_id": "down-1",
        "config": {"endpoint": f"http://127.0.0.1:{closed_port()}", "model": "m", "backoff_s": 0.01},
        "grid": {"task_index": [0, 1, 2]},
    }
    outcomes, rows = run_llm(payload, store)
    assert [o["status"] for o in outcomes] == ["success"] * len(outcomes)
    assert {row["status"] for row in rows} == {"error"}
    # THEN its status is failed, not succeeded
    status = run_status(store, "down-1")
    assert (status.state, status.points_ok, status.points_error) == ("failed", 0, 3)


@pytest.mark.parametrize(
    ("points_ok", "state", "label"),
    [
        (8, "succeeded", "succeeded"),
        (5, "completed_with_errors", "completed with errors: 3 of 8 points failed"),
        (0, "failed", "failed"),
    ],
)
def test_the_state_follows_the_rows_of_a_shard_that_succeeded(points_ok: int, state: str, label: str) -> None:
    # GIVEN a run of one shard that succeeded with `points_ok` of its 8 points ok
    store = MemoryStore()
    submit_run({**SWEEP, "shard_size": 8}, runtime_for(store)[0])
    record_outcome(store, _success(points_ok))
    # THEN its state and the words every view shows follow the rows
    status = run_status(store, "maze-1")
    assert (status.state, status.label, status.points_error) == (state, label, 8 - points_ok)
