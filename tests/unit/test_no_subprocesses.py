"""The guard of `tests/unit/conftest.py`: a unit test that starts a process fails."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest

from tests.unit.conftest import SpawnInUnitTestError


def test_a_unit_test_cannot_run_a_subprocess() -> None:
    with pytest.raises(SpawnInUnitTestError, match="move the test to tests/functional"):
        subprocess.run([sys.executable, "-c", "pass"], check=False, timeout=30)


def test_a_unit_test_cannot_fork() -> None:
    with pytest.raises(SpawnInUnitTestError):
        os.fork()


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_a_unit_test_cannot_start_a_multiprocessing_child(method: str) -> None:
    process = multiprocessing.get_context(method).Process(target=print)
    with pytest.raises(SpawnInUnitTestError):
        process.start()
