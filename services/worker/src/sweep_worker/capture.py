"""What a point prints, captured per point: stdout, stderr and log records while it runs.

`sys.stdout`/`sys.stderr` are replaced once by routers that write to the current thread's capture
buffer when it has one, else to the original stream; so points that run concurrently on threads
(I/O-bound experiments) each keep their own lines, and nothing floods the terminal. The buffer is
bounded: its last `LOG_LIMIT` characters are kept."""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from sweep_contracts.schema import clip_log

_local = threading.local()
_install_lock = threading.Lock()


class _Router(io.TextIOBase):
    def __init__(self, original: TextIO) -> None:
        self.original = original

    def write(self, text: str) -> int:
        buffer: io.StringIO | None = getattr(_local, "buffer", None)
        return buffer.write(text) if buffer is not None else self.original.write(text)

    def flush(self) -> None:
        if getattr(_local, "buffer", None) is None:
            self.original.flush()

    def fileno(self) -> int:
        return self.original.fileno()

    def isatty(self) -> bool:
        return False


class _Records(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        buffer: io.StringIO | None = getattr(_local, "buffer", None)
        if buffer is not None:
            buffer.write(f"{record.levelname} {record.name}: {record.getMessage()}\n")


def _install() -> None:
    with _install_lock:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr)
        root = logging.getLogger()
        if not any(isinstance(h, _Records) for h in root.handlers):
            root.addHandler(_Records())


class Captured:
    """The text a point produced; `text` is None when it printed nothing."""

    text: str | None = None


@contextmanager
def capture() -> Iterator[Captured]:
    """Route this thread's output into a buffer for the duration of the block."""
    _install()
    result = Captured()
    previous = getattr(_local, "buffer", None)
    _local.buffer = buffer = io.StringIO()
    try:
        yield result
    finally:
        _local.buffer = previous
        result.text = clip_log(buffer.getvalue()) if buffer.tell() else None


class ShardCapture:
    """`capture()` for the points of one shard run one after another in this thread: the streams
    are checked once and one buffer serves every point. `take()` after each point returns what it
    printed (None if nothing) and empties the buffer for the next."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._previous: io.StringIO | None = None

    def __enter__(self) -> ShardCapture:
        _install()
        self._previous = getattr(_local, "buffer", None)
        _local.buffer = self._buffer
        return self

    def __exit__(self, *exc: object) -> None:
        _local.buffer = self._previous

    def take(self) -> str | None:
        buffer = self._buffer
        if not buffer.tell():
            return None
        text = clip_log(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
        return text
