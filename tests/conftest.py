"""Shared fixtures: stores and settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore, MemoryStore


@pytest.fixture
def settings() -> SystemSettings:
    return SystemSettings.resolve({}, source="default")


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "results")


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()
