"""Shared fixtures: stores and settings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore, MemoryStore
from sweep_orchestrator import deps
from tests.cloud import Stage, make_stage


@pytest.fixture
def settings() -> SystemSettings:
    return SystemSettings.resolve({}, source="default")


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "results")


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and region that can reach nothing: moto answers, or nothing does."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


_MOTO = threading.RLock()


@pytest.fixture
def stage(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    # moto's S3 is not thread-safe (a listing iterates the bucket's key dict while another thread's
    # delete changes it: KeyError), and the stage tests run handlers in threads, as Lambda runs them
    # side by side: each AWS call is answered whole, one at a time, as the real services answer them
    answer = BotocoreStubber.__call__

    def one_at_a_time(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        with _MOTO:
            return answer(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", one_at_a_time)
    with mock_aws():
        yield make_stage()
    deps.use(None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Captured output that holds a lone surrogate (tests/functional/test_lone_surrogates.py logs
    them on purpose) is kept with it escaped: `make test` runs on pytest-xdist workers, whose reports
    travel as UTF-8 and stopped the whole session on such a text (INTERNALERROR)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    report.sections = [
        (title, text.encode("utf-8", "backslashreplace").decode("utf-8")) for title, text in report.sections
    ]
