"""Listing runs, newest first. Manifests are written once, so a key's modification time is its
run's creation time: only the newest `limit` manifests are read."""

from __future__ import annotations

from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_contracts.storage import ObjectStore


def list_runs(store: ObjectStore, limit: int | None = None) -> list[RunManifest]:
    infos = [info for info in store.list_info(f"{layout.RUNS}/") if layout.parse_manifest_key(info.key)]
    infos.sort(key=lambda info: info.modified, reverse=True)
    manifests = []
    for info in infos[:limit] if limit else infos:
        data = store.get(info.key)
        if data is not None:
            manifests.append(RunManifest.from_json(data))
    manifests.sort(key=lambda m: m.created_at, reverse=True)
    return manifests
