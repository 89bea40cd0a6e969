"""Reading runs back: one manifest by its run_id, or the newest runs.

Manifests are written once, so a key's modification time is its run's creation time: listing
reads only the newest `limit` manifests."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from sweep_contracts import layout
from sweep_contracts.errors import RunNotFoundError, StoreError
from sweep_contracts.manifest import RunManifest
from sweep_contracts.storage import ObjectStore


def load_manifest(store: ObjectStore, run_id: str) -> RunManifest:
    """The manifest of `run_id`, checked against its own content hash."""
    return _checked(store, run_id, _manifest_bytes(store, run_id))


def _manifest_bytes(store: ObjectStore, run_id: str) -> bytes:
    data = store.get(layout.manifest_key(run_id))
    if data is None:
        raise RunNotFoundError(
            f"there is no run `{run_id}` in {store.uri}.",
            field="run_id",
            value=run_id,
            hint="list the runs with `sweep runs`, and check the results location (`--out` or `--stage`).",
        )
    return data


def _checked(store: ObjectStore, run_id: str, data: bytes) -> RunManifest:
    manifest = RunManifest.from_json(data)
    if RunManifest.hash_request(manifest.request) != manifest.request_hash:
        raise StoreError(
            f"the manifest of run `{run_id}` does not match its own content hash: it was changed after it was written.",
            field="run_id",
            value=run_id,
            hint="manifests are written once; restore it from the bucket's object versions, or resubmit the run.",
        )
    return manifest


class ManifestCache:
    """Manifests of one store by run id, for a warm orchestrator: polling a run's status reads its
    manifest once, not once a poll.

    What it keeps is immutable while the run exists: a manifest is written once (put-if-absent) and
    never rewritten — resubmitting the run_id with the same content leaves it as it is, with other
    content is refused (409), and a retry's settings travel in its shard tasks, not in the manifest.
    Only removing the run (`sweep rm`, a lifecycle rule, a hand in the console) and submitting its
    run_id again replaces it: an entry is trusted for `max_age_s`, so such a run shows within that
    time. It keeps the stored bytes, so no caller can change the manifest the next one gets."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        limit: int = 256,
        max_age_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.limit = limit
        self.max_age_s = max_age_s
        self.clock = clock
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, run_id: str) -> RunManifest:
        """The manifest of `run_id`: from memory when it was read less than `max_age_s` ago."""
        now = self.clock()
        with self._lock:
            hit = self._items.get(run_id)
            if hit is not None and now - hit[0] < self.max_age_s:
                self._items.move_to_end(run_id)
                return _checked(self.store, run_id, hit[1])
        data = _manifest_bytes(self.store, run_id)
        manifest = _checked(self.store, run_id, data)
        with self._lock:
            self._items[run_id] = (now, data)
            self._items.move_to_end(run_id)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
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


def delete_run(store: ObjectStore, run_id: str) -> int:
    """Remove every object of `run_id` (points and outcomes first, the manifest last, so an
    interrupted removal still lists the run and can be repeated); answers how many were removed."""
    load_manifest(store, run_id)  # an unknown run is an error, not a silent no-op
    keys = [*store.list(layout.points_prefix(run_id)), *store.list(layout.outcomes_prefix(run_id))]
    keys += store.list(layout.started_prefix(run_id))  # markers an execution that died left behind
    keys += store.list(layout.cache_prefix(run_id))  # copies of its views a local reader made
    keys += [k for k in store.list(f"{layout.RUNS}/run_id={run_id}/") if k != layout.manifest_key(run_id)]
    for key in keys:
        store.delete(key)
    store.delete(layout.manifest_key(run_id))
    return len(keys) + 1


def differences(old: object, new: object, path: str = "", limit: int = 8) -> list[str]:
    """Dotted paths at which two JSON documents differ, each with both values (at most `limit`)."""
    found: list[str] = []
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            found += differences(old.get(key), new.get(key), f"{path}.{key}" if path else str(key), limit)
            if len(found) >= limit:
                break
    elif old != new:
        found.append(f"`{path}`: {_short(old)} → {_short(new)}")
    return found[:limit]


def _short(value: object, width: int = 60) -> str:
    text = "absent" if value is None else json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"
