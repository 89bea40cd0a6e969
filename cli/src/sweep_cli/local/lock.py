"""Which process runs a local run: `sweep run` holds `<out>/.running/<run_id>.json` (its pid, host
and start) while it runs the run's shards, so a second `sweep run` of the same file says the run
is running there and follows it, instead of showing a half-finished run as if it were done.

A lock whose process is gone (killed, the machine restarted) is stale: it is taken over. A lock of
another host (a results directory on a shared disk) is taken as live: its process cannot be asked."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DIRECTORY = ".running"
"""Under the results directory; not part of the store's layout (no backend but this one reads it)."""


@dataclass(frozen=True)
class Holder:
    """The process that holds a run's lock."""

    pid: int
    host: str
    started_at: str

    @property
    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # cannot be asked: taken as running
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            return True
        return True


def _path(out: Path, run_id: str) -> Path:
    return Path(out) / DIRECTORY / f"{run_id}.json"


def holder(out: Path, run_id: str) -> Holder | None:
    """Who holds the run's lock (alive or not); None without a lock or with one that cannot be read."""
    try:
        data = json.loads(_path(out, run_id).read_text())
        return Holder(int(data["pid"]), str(data["host"]), str(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_elsewhere(out: Path, run_id: str) -> Holder | None:
    """The live process, not this one, that holds the run's lock."""
    found = holder(out, run_id)
    if found is None or not found.alive or (found.pid == os.getpid() and found.host == socket.gethostname()):
        return None
    return found


def acquire(out: Path, run_id: str) -> Holder | None:
    """Take the run's lock for this process; answers the live process that holds it instead. The
    lock appears whole (written aside, then linked into place), so a reader never finds it empty;
    a stale one is replaced."""
    path = _path(out, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": datetime.now(UTC).isoformat()}
    aside = path.with_name(f".{run_id}.{os.getpid()}.tmp")
    aside.write_text(json.dumps(record))
    try:
        for _ in range(2):  # a stale lock is removed once, then taken
            try:
                os.link(aside, path)
                return None
            except FileExistsError:
                found = holder(out, run_id)
                if found is not None and found.alive:
                    mine = found.pid == os.getpid() and found.host == socket.gethostname()
                    return None if mine else found
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        return running_elsewhere(out, run_id)
    finally:
        aside.unlink()


def release(out: Path, run_id: str) -> None:
    """Give up the run's lock, if this process holds it."""
    found = holder(out, run_id)
    if found is not None and found.pid == os.getpid() and found.host == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            _path(out, run_id).unlink()
