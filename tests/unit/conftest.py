"""Unit tests start no process: a spawn or fork fails the test that tried it. What needs a child
process (a cold start, a pool, a CLI run) belongs in `tests/functional`."""

from __future__ import annotations

import _posixsubprocess
import multiprocessing.popen_forkserver
import os
import subprocess
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

from sweep_contracts import environment
from sweep_contracts.version import code_version


class SpawnInUnitTestError(AssertionError):
    """A unit test tried to start a process."""


def _refuse(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise SpawnInUnitTestError(
            f"a unit test started a process ({what}); tests/unit stays free of subprocesses: "
            "move the test to tests/functional."
        )

    return refuse


# every way a Python process starts another: subprocess and multiprocessing's spawn end in
# `fork_exec`; fork (multiprocessing's fork context), posix_spawn and os.system do not; nor does a
# forkserver child once the server runs (a functional test earlier in the session started it): the
# server forks it, asked over a socket, so the forkserver context is refused where it asks
_SPAWNERS = [
    (multiprocessing.popen_forkserver.Popen, "_launch"),
    (subprocess, "_fork_exec"),
    (_posixsubprocess, "fork_exec"),
    (os, "fork"),
    (os, "forkpty"),
    (os, "posix_spawn"),
    (os, "posix_spawnp"),
    (os, "system"),
]


@pytest.fixture(autouse=True)
def _no_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name in _SPAWNERS:
        if hasattr(module, name):
            monkeypatch.setattr(module, name, _refuse(f"{module.__name__}.{name}"))


@pytest.fixture(autouse=True)
def _build_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A manifest's build is the checkout's git commit (asked of `git`) unless the environment names
    it, as a deployed function's does: unit tests name it, and a version computed here is forgotten
    after the test, so a later functional test still records the commit."""
    monkeypatch.setenv(environment.CODE_VERSION, "unit-test")
    known = code_version.cache_info().currsize
    yield
    if not known:
        code_version.cache_clear()
