"""Shared fixtures: stores and settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

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


@pytest.fixture
def stage(aws_env: None) -> Iterator[Stage]:
    with mock_aws():
        yield make_stage()
    deps.use(None)
