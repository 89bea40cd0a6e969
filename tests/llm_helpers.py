"""Running LLM sweeps in-process for tests: submit through the orchestrator core, run every
shard through the worker with an API key from a fake secret store, read the rows back."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sweep_contracts.experiments import Registry
from sweep_contracts.storage import ObjectStore
from sweep_orchestrator.submit import submit_run
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import runtime_for

KEY = "sk-test-4f1c9e0d7b2a"


def run_llm(
    payload: dict[str, Any], store: ObjectStore, key: str = KEY
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Outcomes and point rows (sorted by point_index) of a sweep run in-process."""
    rt, dispatcher = runtime_for(store)
    submit_run(payload, rt)
    deps = WorkerDeps(store=store, registry=Registry.default(), secrets=lambda names: dict.fromkeys(names, key))
    outcomes = [process_event(event, deps) for event in dispatcher.events]
    return outcomes, rows(store)


def rows(store: ObjectStore) -> list[dict[str, Any]]:
    tables = [pq.read_table(io.BytesIO(store.get(k) or b"")) for k in store.list("points/")]
    out = pa.concat_tables(tables).to_pylist() if tables else []
    for row in out:
        row["metrics"] = dict(row["metrics"])
        row["params"] = dict(row["params"])
        row["config"] = json.loads(row["config_json"])
        row["call"] = json.loads(row["call_json"]) if row["call_json"] else None
    return sorted(out, key=lambda r: r["point_index"])
