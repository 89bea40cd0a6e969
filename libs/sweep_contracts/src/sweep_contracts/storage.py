"""Object stores: the one interface through which runs are read and written.

`LocalStore` (a directory) and `MemoryStore` (for tests) live here; the S3 store lives with the
AWS adapters. Keys are the layout's keys, `/`-separated, under the store's root.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from sweep_contracts.errors import StoreError


@dataclass(frozen=True)
class ObjectInfo:
    """A key, a tag that changes whenever its content does (ETag, mtime), and when it was written."""

    key: str
    tag: str
    modified: float


@runtime_checkable
class ObjectStore(Protocol):
    """Where runs live. Writes of one key replace it whole; readers never see half a file."""

    @property
    def uri(self) -> str: ...

    def put(self, key: str, data: bytes) -> None:
        """Create or replace `key`."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create `key` unless it exists; True if this call created it."""

    def get(self, key: str) -> bytes | None:
        """The bytes at `key`, or None if there is no such key."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix`, in lexicographic order."""

    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        """Like `list`, with each key's tag and modification time."""


class LocalStore:
    """A directory. Writes go to a temporary file first and are renamed into place."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    @property
    def uri(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"store keys are relative and stay inside the store; got {key!r}")
        return self.root / key

    def _temp(self, path: Path, data: bytes) -> Path:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
            temp.write_bytes(data)
        except OSError as exc:
            raise StoreError(
                f"cannot write {path}: {exc.strerror or exc}.",
                field="store",
                value=str(self.root),
                hint="check that the results directory is writable and the disk has room.",
            ) from exc
        return temp

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        os.replace(self._temp(path, data), path)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        temp = self._temp(path, data)
        try:
            os.link(temp, path)  # atomic, and fails if the key exists
            return True
        except FileExistsError:
            return False
        finally:
            temp.unlink(missing_ok=True)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"cannot read {path}: {exc.strerror or exc}.",
                field="store",
                value=str(path),
                hint="check that the results directory is readable by you, and that its disk is mounted.",
            ) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        directory = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not directory.is_dir():
            return
        found = []
        for dirpath, _, files in os.walk(directory):
            # names are matched as strings before any path is built: status lists a big run's
            # directories in blocks (`sweep_orchestrator.listing`), each a slice of 10,000 names
            relative = Path(dirpath).relative_to(self.root).as_posix()
            base = "" if relative == "." else relative + "/"
            for name in files:
                key = base + name
                if name.startswith(".") or not key.startswith(prefix):
                    continue
                stat = os.stat(os.path.join(dirpath, name))
                found.append(ObjectInfo(key, f"{stat.st_mtime_ns}-{stat.st_size}", stat.st_mtime))
        yield from sorted(found, key=lambda info: info.key)

    def list(self, prefix: str) -> Iterator[str]:
        return (info.key for info in self.list_info(prefix))


class MemoryStore:
    """A dict, for tests: the same behaviour as the other stores, and every call counted."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.versions: dict[str, int] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._clock = 0

    @property
    def uri(self) -> str:
        return "memory://"

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self.calls.append(("put", key))
            self._write(key, data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        with self._lock:
            self.calls.append(("put_if_absent", key))
            if key in self.objects:
                return False
            self._write(key, data)
            return True

    def _write(self, key: str, data: bytes) -> None:
        self._clock += 1
        self.objects[key] = bytes(data)
        self.versions[key] = self._clock

    def get(self, key: str) -> bytes | None:
        with self._lock:
            self.calls.append(("get", key))
            return self.objects.get(key)

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self.objects

    def delete(self, key: str) -> None:
        with self._lock:
            self.calls.append(("delete", key))
            self.objects.pop(key, None)

    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        with self._lock:
            self.calls.append(("list", prefix))
            found = [
                ObjectInfo(k, str(self.versions[k]), float(self.versions[k]))
                for k in self.objects
                if k.startswith(prefix)
            ]
        yield from sorted(found, key=lambda info: info.key)

    def list(self, prefix: str) -> Iterator[str]:
        return (info.key for info in self.list_info(prefix))
