"""The real-model tier (`make test-llm`): llama-cpp-python built from its sdist serving
SmolLM2-135M-Instruct on loopback, started once for the session by scripts/llm-server.sh."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "llm-server.sh"
MODEL = "smollm2"  # the server's --model_alias


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.llm)


@pytest.fixture(scope="session")
def llm_url() -> Iterator[str]:
    """Base URL of the running model server (SWEEP_LLM_URL to use one already running)."""
    if url := os.environ.get("SWEEP_LLM_URL"):
        yield url
        return
    started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, timeout=1800, check=False)
    if started.returncode != 0:
        pytest.fail(f"the model server did not start:\n{started.stderr[-3000:]}")
    url = started.stdout.strip().splitlines()[-1]
    try:
        yield url
    finally:
        # by its port: a server the user started with the script keeps running
        subprocess.run([str(SCRIPT), "stop", url.rsplit(":", 1)[1]], timeout=60, check=False)


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SWEEP_SECRET_API_KEY", "")  # the local server needs no key
    return ""
