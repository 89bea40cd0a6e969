"""A stage's API key goes only where its settings admin allows (issue 20 item 1): a hostile run is
refused at submit, a forged task by the worker before any call, a redirect carries no key, and no
part of a key an echoing server sends back reaches a Parquet row."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pyarrow.parquet as pq
import pytest

from sweep_aws.ssm import SsmSecrets
from sweep_contracts.schema import OUTPUT_LIMIT
from sweep_contracts.storage import MemoryStore
from sweep_worker.runner import process_event
from tests.cloud import PREFIX, Stage
from tests.llm_fake import FakeModelServer, Fault
from tests.llm_helpers import rows, run_llm

KEY = "Zq7Xk9Wm2Pv4Rt8Ls6Nb"
ALLOWED = "https://api.example.com"
SETTING = "the stack config `sweep:secretBindings.api_key` (`pulumi up`)"


def bind(stage: Stage, *endpoints: str, header: str = "Authorization") -> None:
    """A stage whose key is a SecureString that its admin lets go to `endpoints` in `header`."""
    stage.ssm.put_parameter(Name=f"{PREFIX}secrets/api_key", Value=KEY, Type="SecureString")
    binding = json.dumps({"endpoints": list(endpoints), "header": header})
    stage.ssm.put_parameter(Name=f"{PREFIX}secret-bindings/api_key", Value=binding, Type="String")
    stage.settings.clear()
    stage.worker = replace(stage.worker, secrets=SsmSecrets(PREFIX, client=stage.ssm))


def sent_key(server: FakeModelServer) -> bool:
    return any(KEY in value for headers in server.headers for value in headers.values())


def run(endpoint: str, **config: Any) -> dict[str, Any]:
    return {"experiment": "ollama", "config": {"endpoint": endpoint, "model": "m", **config}}


def test_a_run_that_names_its_own_server_is_refused_at_submit_and_the_key_goes_nowhere(stage: Stage) -> None:
    # GIVEN a stage whose key may go to one https endpoint, and an attacker's server on loopback
    bind(stage, ALLOWED)
    with FakeModelServer().running() as attacker:
        # WHEN anyone who may submit names their server and a header of their choosing
        status, body = stage.call("POST", "/runs", run(attacker.url, api_key_header="X-Anything"))
        stage.run_all()
    # THEN 400 naming the endpoint and the setting that would allow it; nothing dispatched or written
    assert (status, body) == (
        400,
        {
            "code": "INVALID_REQUEST",
            "message": f"secret `api_key` may not be sent to endpoint {attacker.url} "
            f"(allowed: https://api.example.com:443); a settings admin allows an endpoint in {SETTING}.",
            "field": "config.endpoint",
            "value": attacker.url,
            "limit": {"endpoints": ["https://api.example.com:443"], "header": "Authorization"},
            "hint": f"use an allowed endpoint and header, or ask a settings admin to change {SETTING}.",
        },
    )
    assert attacker.requests == []
    assert stage.object_keys() == []


def test_an_endpoint_swept_as_an_axis_is_checked_too(stage: Stage) -> None:
    bind(stage, ALLOWED)
    with FakeModelServer().running() as attacker:
        status, body = stage.call("POST", "/runs", {**run(ALLOWED), "grid": {"endpoint": [ALLOWED, attacker.url]}})
        stage.run_all()
    assert (status, body["field"], body["value"]) == (400, "config.endpoint", attacker.url)
    assert attacker.requests == []


def test_an_allowed_endpoint_with_another_header_is_refused_naming_the_header(stage: Stage) -> None:
    bind(stage, ALLOWED)
    status, body = stage.call("POST", "/runs", run(ALLOWED, api_key_header="X-Anything"))
    assert (status, body["field"], body["value"]) == (400, "config.api_key_header", "X-Anything")
    assert body["message"] == (
        f"secret `api_key` may travel only in header `Authorization`, not `X-Anything`; set "
        f"`api_key_header: Authorization`, or change the header in {SETTING}."
    )


def forged(endpoint: str, header: str = "Authorization") -> dict[str, Any]:
    """A shard task built by hand, as someone who may invoke the worker could."""
    return {
        "kind": "sweep.shard",
        "run_id": "forged-1",
        "shard_id": 0,
        "shard_count": 1,
        "start": 0,
        "stop": 2,
        "experiment": "ollama",
        "config": {"endpoint": endpoint, "model": "m", "api_key_header": header},
        "spec": {"grid": {"task_index": [0, 1]}},
        "settings": {},
    }


def test_a_forged_task_is_refused_by_the_worker_before_any_call(stage: Stage) -> None:
    # GIVEN a stage whose key may go to one https endpoint only
    bind(stage, ALLOWED)
    with FakeModelServer().running() as attacker:
        # WHEN a task that never passed the orchestrator names the attacker's server
        process_event(forged(attacker.url, "X-Anything"), stage.worker)
    # THEN the attacker saw no request at all, and each point says why in its row
    assert attacker.requests == []
    got = rows(stage.store)
    assert [r["status"] for r in got] == ["error", "error"]
    assert got[0]["error_message"] == (
        f"secret `api_key` may not be sent to endpoint {attacker.url} (allowed: https://api.example.com:443); "
        f"a settings admin allows an endpoint in {SETTING}; no call was made"
    )


def test_a_key_without_a_binding_goes_nowhere(stage: Stage) -> None:
    # GIVEN a stage with a key and no binding for it
    stage.ssm.put_parameter(Name=f"{PREFIX}secrets/api_key", Value=KEY, Type="SecureString")
    stage.worker = replace(stage.worker, secrets=SsmSecrets(PREFIX, client=stage.ssm))
    with FakeModelServer().running() as server:
        process_event(forged(server.url), stage.worker)
    assert server.requests == []
    assert "(allowed: no endpoint)" in rows(stage.store)[0]["error_message"]


def test_a_redirect_from_an_allowed_endpoint_carries_no_key_to_another_host(stage: Stage) -> None:
    # GIVEN an allowed loopback endpoint that redirects every call to another server
    with FakeModelServer().running() as other:

        def redirect(body: dict[str, Any], seen: int) -> Fault:
            return Fault(307, b"", {"location": f"{other.url}/api/chat"})

        with FakeModelServer(behave=redirect).running() as allowed:
            bind(stage, allowed.url)
            process_event(forged(allowed.url), stage.worker)
    # THEN the allowed endpoint got the key; the other host got nothing, and the row says why
    assert sent_key(allowed)
    assert other.requests == []
    assert not sent_key(other)
    assert rows(stage.store)[0]["error_message"].startswith(f"{allowed.url}/api/chat answered HTTP 307")


def fragments(key: str) -> list[str]:
    return [key[i:j] for i in range(len(key)) for j in range(i + 4, len(key) + 1) if i == 0 or j == len(key)]


def stored_texts(store: MemoryStore) -> list[str]:
    texts = []
    for name in store.list(""):
        data = store.get(name) or b""
        if name.endswith(".parquet"):
            for column in pq.read_table(io.BytesIO(data)).to_pylist():
                texts.extend(str(value) for value in column.values())
        else:
            texts.append(data.decode(errors="replace"))
    return texts


@pytest.mark.parametrize(
    "fault",
    [
        # an error body cut at 300 characters, the key's start before the cut
        Fault(401, json.dumps({"error": "x" * 290 + KEY}).encode()),
        Fault(400, json.dumps({"error": {"message": "y" * 295 + KEY, "code": "bad"}}).encode()),
        # a 200 that is not JSON, quoted up to 200 characters
        Fault(200, ("z" * 190 + KEY).encode()),
        # a reply longer than the output column, the key across its end
        Fault(
            200,
            json.dumps(
                {"message": {"role": "assistant", "content": "w" * (OUTPUT_LIMIT - 6) + KEY}, "done": True}
            ).encode(),
        ),
    ],
    ids=["ollama-error", "openai-error", "not-json", "long-output"],
)
def test_no_part_of_an_echoed_key_reaches_any_stored_column(fault: Fault) -> None:
    # GIVEN a server that echoes the key where a cut falls inside it
    store = MemoryStore()
    with FakeModelServer(behave=lambda body, seen: fault).running() as server:
        run_llm(run(server.url, max_attempts=1), store, key=KEY)
    # THEN no prefix or suffix of the key of 4 characters or more is in any column of any object
    texts = stored_texts(store)
    assert texts
    leaked = [part for part in fragments(KEY) for text in texts if part in text]
    assert leaked == []
