"""GET /runs/{id} at scale: status lists a run's outcome keys and points keys, and reads outcome
objects only as far as its answer shows them, so its requests grow with pages of 1,000 keys and
not with shards (issue 11, item 5). Requests are counted on the S3 client (botocore events)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import botocore.parsers
import pytest
from botocore.awsrequest import AWSPreparedRequest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from sweep_aws.clients import s3_client
from sweep_aws.s3 import S3Store
from sweep_cli import render
from sweep_contracts import layout
from sweep_contracts.outcomes import Outcome
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.runs import ManifestCache
from sweep_orchestrator.status import LISTED, OutcomeReader, run_status
from tests.big_run import RUN, SHARD_SIZE, Put, submit_big, write_outcomes
from tests.cloud import BUCKET, REGION, s3_key
from tests.helpers import FIXED_NOW, outcome_totals, status_totals

SHARDS = 1_500
PAGES = math.ceil(SHARDS / 1000)
MANIFEST = 1
"""Beside the listings: the manifest (the answer carries the plan), unless a warm orchestrator has it."""


@dataclass
class Bucket:
    store: S3Store
    put: Put
    requests: list[str]


@pytest.fixture
def bucket(aws_env: None) -> Iterator[Bucket]:
    with mock_aws():
        client = s3_client(region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        requests: list[str] = []

        def count(request: AWSPreparedRequest, **_: object) -> None:
            requests.append(f"{request.method} {s3_key(request) or request.url}")

        client.meta.events.register("before-send.s3", count)
        # the run's objects go straight into moto's backend: thousands of them in a second or two
        yield Bucket(S3Store(BUCKET, client=client), lambda key, data: backend.put_object(BUCKET, key, data), requests)


@pytest.mark.slow
def test_status_of_a_run_where_nothing_failed_costs_its_listings_and_the_manifest_issue_11(bucket: Bucket) -> None:
    # GIVEN a finished run of 1,500 shards, every one a success, a third of them with a point error
    expected = write_outcomes(bucket.put, submit_big(bucket.store, SHARDS))
    bucket.requests.clear()
    # WHEN its status is read afresh (a cold orchestrator)
    status = run_status(bucket.store, RUN, now=FIXED_NOW)
    # THEN it made two listings of 2 pages each and read the manifest: no outcome object
    gets = [r for r in bucket.requests if r.startswith("GET") and "list-type" not in r]
    assert (len(bucket.requests), gets) == (PAGES * 2 + MANIFEST, [f"GET {layout.manifest_key(RUN)}"])
    # AND every count is the one the outcomes add up to
    assert (status.state, status.shards_success, status.shards_pending) == ("completed_with_errors", SHARDS, 0)
    assert (status.points_ok, status.points_error, status.points_not_run) == (
        expected.points_ok,
        expected.points_error,
        0,
    )
    # AND the times are when the first and the last outcome were written
    written = [info.modified for info in bucket.store.list_info(layout.outcomes_prefix(RUN))]
    assert status.first_recorded_at is not None
    assert status.last_recorded_at is not None
    assert (status.first_recorded_at.timestamp(), status.last_recorded_at.timestamp()) == (min(written), max(written))


@pytest.mark.slow
def test_a_warm_orchestrator_polls_a_run_with_its_listings_alone_issue_11(bucket: Bucket) -> None:
    # GIVEN a finished run of 1,500 shards, and the manifest cache and outcome reader a warm
    # orchestrator keeps, which have answered one poll already
    write_outcomes(bucket.put, submit_big(bucket.store, SHARDS))
    manifests, reader = ManifestCache(bucket.store), OutcomeReader(bucket.store)
    first = reader.status(RUN, manifests.load(RUN), now=FIXED_NOW)
    bucket.requests.clear()
    # WHEN it is polled again
    again = reader.status(RUN, manifests.load(RUN), now=FIXED_NOW)
    # THEN the poll cost the two listings only, and answered the same
    assert len(bucket.requests) == PAGES * 2, bucket.requests
    assert again == first


@pytest.mark.slow
def test_status_with_failures_reads_only_the_failures_it_shows_issue_11(bucket: Bucket) -> None:
    # GIVEN a finished run of 1,500 shards: 100 failed (half of them kept some rows) and 3
    # successes still have a losing duplicate's points file beside their own
    expected = write_outcomes(bucket.put, submit_big(bucket.store, SHARDS), failures=100, duplicates=3)
    bucket.requests.clear()
    # WHEN its status is read afresh
    status = run_status(bucket.store, RUN, now=FIXED_NOW)
    # THEN it read the failures it lists, and one outcome per shard with two points files
    gets = [r for r in bucket.requests if r.startswith("GET") and "list-type" not in r]
    # (the first block's outcome listing takes a second page: the failures sort before it)
    assert len(bucket.requests) <= PAGES * 2 + 1 + MANIFEST + LISTED + 3, bucket.requests
    assert len(gets) <= MANIFEST + LISTED + 3
    # AND the shard and point counts are complete, the error codes those of the shards listed
    assert (status.state, status.shards_success, status.shards_failure) == ("partial", SHARDS - 100, 100)
    assert (status.points_ok, status.points_error) == (expected.points_ok, expected.points_error)
    assert (len(status.failed_shards), status.failures_not_read) == (LISTED, 100 - LISTED)
    assert sum(status.error_codes.values()) == LISTED
    assert status.error_codes == {"TIME_BUDGET": LISTED // 2, "WORKER_CRASHED": LISTED // 2}
    # AND `sweep status` says whose codes those are, and how to count every one
    text = render.status_text(status).plain
    assert f"in the first {LISTED} failed shards; every one: sweep results {RUN} --sql" in text


@pytest.mark.slow
def test_status_agrees_with_reading_every_outcome_issue_11(bucket: Bucket) -> None:
    # GIVEN a run of 300 shards with failures and duplicates in flight
    manifest = submit_big(bucket.store, 300)
    write_outcomes(bucket.put, manifest, failures=40, duplicates=5)
    # WHEN its status is read from the listings, and its outcomes are read one by one
    status = run_status(bucket.store, RUN, now=FIXED_NOW)
    # THEN the two add up to the same shards and points
    assert status_totals(status) == outcome_totals(bucket.store, RUN)


def test_listings_do_not_parse_timestamps_with_botocores_slow_parser_issue_11(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN botocore's default timestamp parser (dateutil, ~0.2-0.6 ms a key) made to fail
    def refuse(value: object) -> None:
        raise AssertionError(f"botocore's default parser read {value!r}")

    monkeypatch.setattr(botocore.parsers, "DEFAULT_TIMESTAMP_PARSER", refuse)
    bucket.put("runs/run_id=r/manifest.json", b"{}")
    # WHEN a store on a client sweep builds lists a prefix
    listed = list(S3Store(BUCKET, client=s3_client(region_name=REGION)).list_info("runs/"))
    # THEN each key's time was read, by sweep's parser
    assert [info.key for info in listed] == ["runs/run_id=r/manifest.json"]
    assert listed[0].modified > 0


def _legacy_success(shard_id: int, execution: str | None) -> Outcome:
    return Outcome(
        run_id=RUN,
        shard_id=shard_id,
        status="success",
        points_total=SHARD_SIZE,
        points_ok=SHARD_SIZE - 1,
        points_failed=1,
        started_at=FIXED_NOW,
        finished_at=FIXED_NOW,
        duration_ms=0.0,
        execution=execution,
    )


def test_runs_written_before_counts_were_in_keys_are_counted_from_their_outcomes_issue_11() -> None:
    # GIVEN a run whose points keys carry no counts: one shard from before executions existed
    # (`shard=00000.parquet`), one with a bare execution id
    store = MemoryStore()
    submit_big(store, 2)
    for shard_id, execution in [(0, None), (1, "0123456789abcdef")]:
        outcome = _legacy_success(shard_id, execution)
        store.put(layout.points_key(RUN, shard_id, execution), b"")
        store.put(outcome.key, outcome.to_parquet())
    # WHEN its status is read
    status = run_status(store, RUN, now=FIXED_NOW)
    # THEN both shards' points are counted, from their outcomes
    assert (status.state, status.points_ok, status.points_error) == ("completed_with_errors", 2 * (SHARD_SIZE - 1), 2)


def test_a_retry_in_flight_never_lends_its_points_to_the_failure_it_retries() -> None:
    # GIVEN a finished run with more failed shards than a status reads, so the last ones are
    # counted from the listings; the last failed shard kept no rows
    store = MemoryStore()
    manifest = submit_big(store, 200)
    write_outcomes(store.put, manifest, failures=120)
    failed = [s for s in range(200) if layout.outcome_key(RUN, "failure", s) in store.objects]
    retried = max(s for s in failed[LISTED:] if not _has_points(store, s))
    # WHEN its retry has written its points file, and not yet its success
    store.put(layout.points_key(RUN, retried, layout.execution_tag("e" * 16, SHARD_SIZE, 0)), b"")
    status = run_status(store, RUN, now=FIXED_NOW)
    # THEN the failure still stands with the rows it had (none), as its outcome says
    assert status_totals(status) == outcome_totals(store, RUN)


def _has_points(store: MemoryStore, shard_id: int) -> bool:
    return any(key.startswith(layout.shard_points_prefix(RUN, shard_id)) for key in store.objects)
