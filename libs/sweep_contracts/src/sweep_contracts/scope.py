"""What a shard's points may hold only while the shard runs: the time by which they must end, and
resources (an HTTP client and its connections) that the shard closes when it ends.

The worker opens a `ShardScope` around each shard's points (`shard_scope`); code that a point runs
finds it with `current()` (a context variable: the worker hands each point thread a copy of its
context). A warm worker runs many shards in one process: nothing a shard opens may outlive it, or
abandoned calls pile up until a later, healthy shard finds no connection (issue 20, item 6).
Outside a worker (a script calling an experiment directly) there is no scope and `current()` is None."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar


class Closeable(Protocol):
    def close(self) -> None: ...


R = TypeVar("R", bound=Closeable)

_current: ContextVar[ShardScope | None] = ContextVar("sweep_shard_scope", default=None)


class ShardEndedError(RuntimeError):
    """A point abandoned at the end of its shard asked for a resource after the shard closed them."""


class ShardScope:
    """The shard's deadline (`time.monotonic()` seconds) and the resources opened for it, by key."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self._lock = threading.Lock()
        self._resources: dict[Hashable, Any] = {}
        self._closed = False

    def left_s(self) -> float | None:
        """Seconds until the deadline (negative once it passed); None without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def resource(self, key: Hashable, open_: Callable[[], R]) -> R:
        """The resource under `key`, opened by `open_()` the first time; closed with the shard."""
        with self._lock:
            if self._closed:
                raise ShardEndedError("the shard this point belonged to has ended; its connections are closed")
            found = self._resources.get(key)
            if found is None:
                found = self._resources[key] = open_()
            return found

    def close(self) -> None:
        with self._lock:
            self._closed = True
            resources, self._resources = list(self._resources.values()), {}
        for resource in resources:
            resource.close()


def current() -> ShardScope | None:
    """The scope of the shard this code runs for, if any."""
    return _current.get()


@contextmanager
def shard_scope(deadline: float | None = None) -> Iterator[ShardScope]:
    """Run a shard inside a new scope; its resources are closed when the block ends, however it ends."""
    scope = ShardScope(deadline)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
        scope.close()
