"""Listing runs: every manifest in the store, newest first."""

from __future__ import annotations

from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_contracts.storage import ObjectStore


def list_runs(store: ObjectStore, limit: int | None = None) -> list[RunManifest]:
    manifests = []
    for key in store.list(f"{layout.RUNS}/"):
        if layout.parse_manifest_key(key) is None:
            continue
        data = store.get(key)
        if data is not None:
            manifests.append(RunManifest.from_json(data))
    manifests.sort(key=lambda m: m.created_at, reverse=True)
    return manifests[:limit] if limit else manifests
