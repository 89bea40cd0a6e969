"""Running LLM sweeps in-process for tests: submit through the orchestrator core, run every
shard through the worker with an API key from a fake secret store, read the rows back."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sweep_aws.ssm import SsmSecrets
from sweep_contracts.experiments import Registry
from sweep_contracts.storage import ObjectStore
from sweep_orchestrator.submit import submit_run
from sweep_worker.runner import WorkerDeps, process_event
from tests.cloud import PREFIX, make_stage
from tests.helpers import runtime_for
from tests.llm_fake import FakeModelServer

KEY = "sk-test-4f1c9e0d7b2a"
ROOT = Path(__file__).resolve().parents[1]


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


def study(endpoint: str, model: str) -> dict[str, Any]:
    """examples/llm-options-study.yaml, made small enough for a 135M model on 2 shared cores (3x3 maze, 1 turn)."""
    payload: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "llm-options-study.yaml").read_text())
    payload["config"] |= {"endpoint": endpoint, "model": model, "size": 3, "num_predict": 16, "max_turns": 1}
    payload.pop("run_id")
    return payload


def assert_study_rows(got: list[dict[str, Any]]) -> None:
    """12 rows, one per configuration, each sent with exactly its own options."""
    assert [r["status"] for r in got] == ["ok"] * 12, [r["error_message"] for r in got]
    for row in got:
        sent = row["call"]["request"]["options"]
        assert sent == {
            k: row["config"][k] for k in ("num_ctx", "temperature", "repeat_penalty", "num_predict", "seed")
        }
    assert sorted({r["call"]["request"]["options"]["num_ctx"] for r in got}) == [2048, 8192, 32768]
    assert sorted({r["call"]["request"]["options"]["temperature"] for r in got}) == [0.0, 0.1, 0.2, 0.5, 0.7, 1.0]
    assert sorted({r["call"]["request"]["options"]["repeat_penalty"] for r in got}) == [1.0, 1.2, 1.4, 1.6]


def study_in_the_cloud(payload: dict[str, Any], ollama: FakeModelServer) -> None:
    """Inside mock_aws: POST /runs through the orchestrator handler, every shard through the worker
    handler with the key from an SSM SecureString; check rows and that the key went nowhere else."""
    stage = make_stage()
    stage.ssm.put_parameter(Name=PREFIX + "secrets/api_key", Value=KEY, Type="SecureString")
    # the stage's admin lets the key go to this loopback server (docs/deploy.md, Secret bindings)
    binding = json.dumps({"endpoints": [ollama.url], "header": "Authorization"})
    stage.ssm.put_parameter(Name=PREFIX + "secret-bindings/api_key", Value=binding, Type="String")
    stage.worker = replace(stage.worker, secrets=SsmSecrets(PREFIX, client=stage.ssm))
    # Build moto's Lambda router once, here: built lazily by 12 dispatch threads at once, CPython
    # 3.11's ast.parse can fail with "AST constructor recursion depth mismatch".
    stage.lam.list_functions()
    status, body = stage.call("POST", "/runs", payload)
    assert status in (200, 201, 202), body
    outcomes = stage.run_all()
    assert [o["status"] for o in outcomes] == ["success"] * 12
    assert_study_rows(rows(stage.store))
    assert all(h.get("Authorization") == f"Bearer {KEY}" for h in ollama.headers)
    assert all(KEY.encode() not in (stage.store.get(k) or b"") for k in stage.store.list(""))
    assert KEY not in json.dumps(outcomes)
