"""A local run's pool sees the secret variables of its caller as they are when the run starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app
from tests.llm_fake import FakeModelServer


def run_ollama(tmp_path: Path, url: str, run_id: str) -> int:
    sweep = {
        "experiment": "ollama",
        "run_id": run_id,
        "config": {"endpoint": url, "model": "m"},
        "grid": {"task_index": [0, 1]},
    }
    path = tmp_path / f"{run_id}.json"
    path.write_text(json.dumps(sweep))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "-w", "1", "-q"])
    return result.exit_code


def test_a_secret_set_after_an_earlier_run_reaches_the_next_runs_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeModelServer().running() as server:
        # GIVEN a first run in this process without the key: the local pool's fork server starts
        # with an environment that has no SWEEP_SECRET_API_KEY; the key is optional (issue 21), so
        # that run succeeds with no auth header
        monkeypatch.delenv("SWEEP_SECRET_API_KEY", raising=False)
        assert run_ollama(tmp_path, server.url, "no-key") == 0
        assert not any("authorization" in {k.lower() for k in h} for h in server.headers)
        # WHEN the caller then sets the key (a notebook, a shell function) and runs again
        monkeypatch.setenv("SWEEP_SECRET_API_KEY", "k-123")
        code = run_ollama(tmp_path, server.url, "with-key")
    # THEN the second run's pool has the key: every call carried it and the run succeeded
    assert code == 0
    assert server.headers
    assert all({k.lower(): v for k, v in h.items()}.get("authorization") == "Bearer k-123" for h in server.headers[-2:])
