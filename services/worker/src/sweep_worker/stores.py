"""Opening the store a URI names."""

from __future__ import annotations

from sweep_contracts.storage import LocalStore, ObjectStore


def open_store(uri: str) -> ObjectStore:
    """A directory path (or `file://` URI) opens a `LocalStore`."""
    return LocalStore(uri.removeprefix("file://"))
