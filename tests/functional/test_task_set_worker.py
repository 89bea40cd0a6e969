"""A task set by reference at the worker, through the moto stage (issue 20, item 3): S3 throttling is
retried like any S3 read and, when it outlasts the retries, fails the shard retryably instead of
writing error rows into a shard recorded `success`; a set changed after submit is fetched once per
process, not once per point."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest

from sweep_contracts import environment
from sweep_experiments.llm import remote, tasks
from tests.cloud import BUCKET, WORKER, Stage, s3_error, s3_key
from tests.llm_fake import FakeModelServer
from tests.llm_helpers import rows

ITEMS = [{"messages": [{"role": "user", "content": f"What is {n} + {n}?"}], "expected": str(2 * n)} for n in range(2)]
DATA = "".join(json.dumps(item) + "\n" for item in ITEMS).encode()
SHA = hashlib.sha256(DATA).hexdigest()
KEY = "tasksets/set.jsonl"


@pytest.fixture
def worker(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """The moto stage with its functions' environment; every fresh process's caches."""
    monkeypatch.setenv(environment.LAMBDA_FUNCTION, WORKER)
    monkeypatch.setenv(environment.STORE, f"s3://{BUCKET}")
    stage.worker = replace(stage.worker, secrets=lambda names: dict.fromkeys(names, ""))
    stage.s3.put_object(Bucket=BUCKET, Key=KEY, Body=DATA)
    tasks.clear_cache()
    yield stage
    tasks.clear_cache()


class SetReads:
    """Every GetObject of the task set by the clients boto3's default session makes (the task-set
    reader's); `fault(n)` may answer the n-th in S3's place."""

    def __init__(self, fault: Callable[[int], Any] | None = None) -> None:
        self.count = 0
        self.if_none_match: list[str | None] = []
        self.fault = fault
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-send.s3.GetObject", self.before_send)

    def before_send(self, request: Any, **_: Any) -> Any:
        if s3_key(request) != KEY:
            return None
        self.count += 1
        tag = request.headers.get("If-None-Match")
        self.if_none_match.append(tag.decode() if isinstance(tag, bytes) else tag)
        return self.fault(self.count) if self.fault else None


def sweep(url: str, points: int = 20) -> dict[str, Any]:
    return {
        "experiment": "ollama",
        "config": {"endpoint": url, "model": "m", "tasks": f"s3://{BUCKET}/{KEY}", "tasks_sha256": SHA},
        "grid": {"task_index": [0, 1], "temperature": [round(0.1 * t, 1) for t in range(points // 2)]},
        "shard_size": points,
    }


def test_throttling_past_the_retries_fails_the_shard_for_retry(worker: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeModelServer().running() as server:
        status, body = worker.call("POST", "/runs", sweep(server.url))
        assert status == 202, body
        tasks.clear_cache()  # the worker is another process
        # GIVEN S3 answering the worker's reads of the set with SlowDown, past its retries
        monkeypatch.setattr(remote, "MAX_ATTEMPTS", 2)
        reads = SetReads(lambda _: s3_error(503, "SlowDown"))
        # WHEN the shard runs
        [outcome] = worker.run_all()
        # THEN the shard failed, retryably, saying why; no point was called or recorded as an error
        assert (outcome["status"], outcome["error_code"]) == ("failure", "STORE_UNAVAILABLE"), outcome
        assert f"task set s3://{BUCKET}/{KEY} could not be read after 2 attempts (SlowDown)" in outcome["error_message"]
        assert (outcome["points_ok"], outcome["points_failed"]) == (0, 0)
        assert rows(worker.store) == []
        assert server.requests == []
        assert reads.count == 2  # one fetch (two attempts) for the shard, not one per point
        # WHEN S3 recovers and the run is retried THEN every point succeeds
        reads.fault = None
        status, body = worker.call("POST", f"/runs/{body['run_id']}/retry")
        assert status == 202, body
        [again] = worker.run_all()
    assert again["status"] == "success", again
    assert sorted(r["status"] for r in rows(worker.store)) == ["ok"] * 20


@pytest.mark.slow
def test_a_burst_of_throttling_within_the_retries_is_absorbed(worker: Stage) -> None:
    with FakeModelServer().running() as server:
        assert worker.call("POST", "/runs", sweep(server.url, points=4))[0] == 202
        tasks.clear_cache()
        # GIVEN two SlowDown answers to the worker's first reads of the set
        reads = SetReads(lambda n: s3_error(503, "SlowDown") if n <= 2 else None)
        [outcome] = worker.run_all()
    # THEN botocore's retries took the set on the third attempt and every point ran
    assert outcome["status"] == "success", outcome
    assert [r["status"] for r in rows(worker.store)] == ["ok"] * 4
    assert reads.count == 3


def test_a_set_changed_after_submit_is_fetched_once_per_process(worker: Stage) -> None:
    with FakeModelServer().running() as server:
        assert worker.call("POST", "/runs", sweep(server.url))[0] == 202
        # GIVEN the object overwritten after submit
        worker.s3.put_object(Bucket=BUCKET, Key=KEY, Body=DATA.replace(b"0 + 0", b"0 + 1"))
        tasks.clear_cache()
        reads = SetReads()
        # WHEN the shard's 20 points run in one worker process
        [outcome] = worker.run_all()
    # THEN the object was fetched once, and every point says precisely why it was not run
    assert reads.count == 1
    assert server.requests == []
    got = rows(worker.store)
    assert len(got) == 20
    assert {(r["status"], r["error_type"]) for r in got} == {("error", "ConfigError")}
    assert all("not `tasks_sha256`" in r["error_message"] for r in got)
    assert outcome["status"] == "success"


def test_throttling_at_submit_is_a_503_to_resubmit_not_a_missing_object(
    worker: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN S3 throttling the orchestrator's reads of the set past its retries
    monkeypatch.setattr(remote, "MAX_ATTEMPTS", 2)
    SetReads(lambda _: s3_error(503, "SlowDown"))
    # WHEN a sweep naming it is submitted
    status, body = worker.call("POST", "/runs", sweep("http://127.0.0.1:9", points=2))
    # THEN 503 STORE_UNAVAILABLE says it is transient; nothing is dispatched
    assert status == 503, body
    assert body == {
        "code": "STORE_UNAVAILABLE",
        "message": f"task set s3://{BUCKET}/{KEY} could not be read after 2 attempts (SlowDown); S3 is throttling "
        "or failing.",
        "field": "config.tasks",
        "value": f"s3://{BUCKET}/{KEY}",
        "hint": "this is transient: resubmit, or rerun the failed shards with `sweep retry RUN_ID`.",
    }
    assert worker.invokes.calls == []


def test_a_refused_set_is_revalidated_by_etag_and_a_restored_one_is_read(
    worker: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a warm process that refused the set for its content (changed after submit)
    uri = f"s3://{BUCKET}/{KEY}"
    etag = worker.s3.put_object(Bucket=BUCKET, Key=KEY, Body=DATA + DATA)["ETag"]
    reads = SetReads()
    with pytest.raises(ValueError, match="not `tasks_sha256`"):
        tasks.load(uri, None, SHA)
    # WHEN it is asked again within the refusal's lifetime THEN no request is made
    with pytest.raises(ValueError, match="not `tasks_sha256`"):
        tasks.load(uri, None, SHA)
    assert reads.count == 1
    # WHEN asked after it, with the object unchanged THEN a conditional request (304) keeps the verdict
    monkeypatch.setattr(tasks, "REFUSAL_TTL_S", 0.0)
    with pytest.raises(ValueError, match="not `tasks_sha256`"):
        tasks.load(uri, None, SHA)
    assert reads.count == 2
    # WHEN the object is restored THEN the next load reads and accepts it
    worker.s3.put_object(Bucket=BUCKET, Key=KEY, Body=DATA)
    assert len(tasks.load(uri, None, SHA)) == 2
    assert reads.if_none_match == [None, etag, etag]  # the second answered 304, the third the new object
