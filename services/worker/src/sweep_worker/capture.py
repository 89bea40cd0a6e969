"""What a point prints, captured per point: stdout, stderr and log records while it runs.

`sys.stdout`/`sys.stderr` are replaced once by routers that write to the current thread's capture
buffer when it has one, else to the original stream; so points that run concurrently on threads
(I/O-bound experiments) each keep their own lines, and nothing floods the terminal. The buffer is
bounded while the point runs (`Tail`): only its last `LOG_LIMIT` characters are kept, and the
characters dropped before them are counted, so a point that prints 1 GB costs the worker no more
than what it printed at once.

In the local pool, `capture_descriptors` also points file descriptors 1 and 2 at a pipe: what C
code, a subprocess or `os.write` writes there goes into the running point's text too, never to the
terminal of `sweep run` (issue 20, item 10)."""

from __future__ import annotations

import codecs
import io
import logging
import os
import select
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from sweep_contracts.schema import LOG_LIMIT

_local = threading.local()
_install_lock = threading.Lock()
_count_lock = threading.Lock()


class Tail:
    """The last `limit` characters written, and a count of those dropped before them. Holds at most
    about 2 × `limit` characters (besides the one string being written)."""

    def __init__(self, limit: int = LOG_LIMIT) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0
        self.dropped = 0

    def write(self, text: str) -> int:
        n = len(text)
        if n >= self.limit:
            self.dropped += self._size + n - self.limit
            self._parts, self._size = [text[-self.limit :]], self.limit
            return n
        self._parts.append(text)
        self._size += n
        if self._size > 2 * self.limit:
            joined = "".join(self._parts)
            self.dropped += len(joined) - self.limit
            self._parts, self._size = [joined[-self.limit :]], self.limit
        return n

    def tell(self) -> int:
        """Characters written since the last `take` (dropped ones included)."""
        return self.dropped + self._size

    def take(self) -> str | None:
        """The last `limit` characters, behind a line saying how many were cut; None if nothing was
        written. Empties the buffer."""
        if not self.tell():
            return None
        text = "".join(self._parts)
        cut = self.dropped + max(0, len(text) - self.limit)
        self._parts, self._size, self.dropped = [], 0, 0
        return f"[{cut:,} earlier characters cut]\n" + text[-self.limit :] if cut else text


class _Router(io.TextIOBase):
    def __init__(self, original: TextIO) -> None:
        self.original = original

    def write(self, text: str) -> int:
        buffer: Tail | None = getattr(_local, "buffer", None)
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
        buffer: Tail | None = getattr(_local, "buffer", None)
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
    _local.buffer = buffer = Tail()
    _Descriptors.enter()
    try:
        yield result
    finally:
        _Descriptors.exit()
        _local.buffer = previous
        result.text = _joined(buffer.take(), _Descriptors.take())


class ShardCapture:
    """`capture()` for the points of one shard run one after another in this thread: the streams
    are checked once and one buffer serves every point. `take()` after each point returns what it
    printed (None if nothing) and empties the buffer for the next."""

    def __init__(self) -> None:
        self._buffer = Tail()
        self._previous: Tail | None = None

    def __enter__(self) -> ShardCapture:
        _install()
        self._previous = getattr(_local, "buffer", None)
        _local.buffer = self._buffer
        _Descriptors.enter()
        return self

    def __exit__(self, *exc: object) -> None:
        _Descriptors.exit()
        _local.buffer = self._previous

    def take(self) -> str | None:
        return _joined(self._buffer.take(), _Descriptors.take())


def _joined(text: str | None, raw: str | None) -> str | None:
    """What a point printed through Python's streams, then what it wrote to fds 1 and 2."""
    if raw is None:
        return text
    if text is None:
        return raw
    whole = Tail()
    whole.write(text)
    whole.write(raw)
    return whole.take()


def _visible(text: str) -> str:
    """`text` with control characters (but newlines and tabs) written as escapes."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


class _Descriptors:
    """Fds 1 and 2 of this process pointed at a pipe, which a thread drains: into a `Tail` while a
    capture is open, else (sweep's own messages between points) to the original stderr with
    control characters made visible. A point that writes much blocks only until the thread reads,
    and keeps no more than the tail. The child that runs isolated points gets a pipe and thread of
    its own (`after_fork`): threads do not survive a fork. A point's own children write into this
    process's pipe (not through an at-fork hook: a `subprocess` with `preexec_fn` runs those hooks
    before its `exec`, and would be left writing into a pipe nobody reads)."""

    _installed: _Descriptors | None = None
    _open = 0
    """Captures open in this process."""

    DRAIN_CHUNKS = 64
    """Most 64 KiB reads one `take` makes: a child a point left writing cannot hold it forever."""

    def __init__(self, terminal: int) -> None:
        self.terminal = terminal
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)
        os.set_blocking(read, False)
        self.read = read
        self.lock = threading.Lock()
        self.tail = Tail()
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")
        threading.Thread(target=self._drain_forever, name="sweep-fd-capture", daemon=True).start()

    def _drain_forever(self) -> None:
        while True:
            select.select([self.read], [], [])
            with self.lock:
                self._drain()

    def _drain(self) -> None:
        for _ in range(self.DRAIN_CHUNKS):
            try:
                chunk = os.read(self.read, 65_536)
            except BlockingIOError:
                return
            if not chunk:
                return
            text = self.decoder.decode(chunk)
            if _Descriptors._open:
                self.tail.write(text)
            elif text:
                os.write(self.terminal, _visible(text).encode("utf-8", "backslashreplace"))

    @classmethod
    def enter(cls) -> None:
        with _count_lock:  # captures open and close on several threads (I/O-bound experiments)
            cls._open += 1

    @classmethod
    def exit(cls) -> None:
        with _count_lock:
            cls._open -= 1

    @classmethod
    def take(cls) -> str | None:
        found = cls._installed
        if found is None:
            return None
        with found.lock:
            found._drain()
            return found.tail.take()

    @classmethod
    def after_fork(cls) -> None:
        inherited = cls._installed
        if inherited is not None:
            os.close(inherited.read)  # the parent's thread drains it
            cls._installed = _Descriptors(inherited.terminal)


def capture_descriptors() -> None:
    """Point this process's fds 1 and 2 into the captures (the local pool's processes; see `_Descriptors`)."""
    if _Descriptors._installed is None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        _Descriptors._installed = _Descriptors(os.dup(2))


def after_fork() -> None:
    """In a forked child that runs points (`sweep_worker.isolate`): its own fd pipe and thread, if
    its parent had them (the parent's thread, and any lock it held, did not come along)."""
    _Descriptors.after_fork()
