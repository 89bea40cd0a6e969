"""Reading runs back: one manifest by its run_id, or the newest runs.

Manifests are written once, so a key's modification time is its run's creation time: listing
reads only the newest `limit` manifests."""

from __future__ import annotations

from sweep_contracts import layout
from sweep_contracts.errors import RunNotFoundError, StoreError
from sweep_contracts.manifest import RunManifest
from sweep_contracts.storage import ObjectStore


def load_manifest(store: ObjectStore, run_id: str) -> RunManifest:
    """The manifest of `run_id`, checked against its own content hash."""
    data = store.get(layout.manifest_key(run_id))
    if data is None:
        raise RunNotFoundError(
            f"there is no run `{run_id}` in {store.uri}.",
            field="run_id",
            value=run_id,
            hint="list the runs with `sweep runs`, and check the results location (`--out` or `--stage`).",
        )
    manifest = RunManifest.from_json(data)
    if RunManifest.hash_request(manifest.request) != manifest.request_hash:
        raise StoreError(
            f"the manifest of run `{run_id}` does not match its own content hash: it was changed after it was written.",
            field="run_id",
            value=run_id,
            hint="manifests are written once; restore it from the bucket's object versions, or resubmit the run.",
        )
    return manifest


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
