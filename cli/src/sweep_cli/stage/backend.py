"""The stage backend: runs on a deployed stage, reached through its signed API; SQL on Athena;
`--local` downloads a run (or a search with its rounds) into the results directory for DuckDB."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import boto3

from sweep_cli.errors import UsageError
from sweep_cli.local.backend import LocalBackend
from sweep_cli.results.axes import axis_select
from sweep_cli.results.metrics import RECORDED_METRICS_SQL, require_recorded
from sweep_cli.results.query import QueryResult, Settings, objective, summary_sql
from sweep_cli.runs import RunRow, Summary
from sweep_cli.stage.athena import AthenaQueries
from sweep_cli.stage.remote import StageClient
from sweep_cli.stage.resolve import StageInfo
from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.retry import RetryResult
from sweep_orchestrator.status import RunStatus
from sweep_orchestrator.submit import SubmitResult

if TYPE_CHECKING:
    from sweep_aws.s3 import S3Store

POLL_S = 3.0


def as_status(answer: dict[str, Any]) -> RunStatus:
    if answer.get("kind") == "search":
        search = answer.get("search_id")
        raise UsageError(
            f"`{search}` is a search, not a run: its rounds are runs, followed one at a time.",
            field="RUN_ID",
            value=search,
            hint=f"`sweep status {search}` shows the search (`--watch`: until it is done); "
            f"`sweep status {search}-r000 --watch` follows its first round.",
        )
    return RunStatus.model_validate({k: answer[k] for k in RunStatus.model_fields if k in answer})


def watch(
    client: StageClient, run_id: str, *, quiet: bool = False, sleep: Callable[[float], None] = time.sleep
) -> RunStatus:
    """Poll GET /runs/{run_id} with a progress bar until no shard is pending, or the run is stalled
    (its pending shards are overdue: nothing will run them until `sweep retry`)."""
    from sweep_cli.progress import progress_bar

    status = as_status(client.status(run_id))
    with progress_bar(run_id, status.points_total, quiet) as bar:
        while True:
            bar.set(status.points_done, status.points_error, status.shards_failure)
            if status.done or status.state == "stalled":
                return status
            sleep(POLL_S)
            status = as_status(client.status(run_id))


class StageBackend:
    """A deployed stage. Its workers run on Lambda: following a run polls its status."""

    shards_run_here = False
    summary_on_finish = False

    def __init__(self, client: StageClient, out: Path) -> None:
        self.client = client
        self.stage: StageInfo = client.stage
        self.out = out

    def __enter__(self) -> StageBackend:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None

    def submit(self, payload: Any) -> SubmitResult:
        answer = self.client.submit(payload)
        return SubmitResult.model_validate({k: v for k, v in answer.items() if k in SubmitResult.model_fields})

    def describe(self, result: SubmitResult) -> str:
        verb = "exists already" if result.existing else "accepted"
        lines = [
            f"run {result.run_id} {verb}: {result.points:,} points in {result.shards:,} shards "
            f"of {result.shard_size:,} on stage {self.stage.name}",
            f"  status: {self.stage.api_url}/runs/{result.run_id}",
            f"  follow: sweep status {result.run_id} {self.stage.flags} --watch",
        ]
        if result.estimate:
            estimate = result.estimate
            bound = "at most" if estimate.upper_bound else "about"
            lines.append(
                f"  estimate: {bound} ${estimate.cost_usd:,.2f}, the last shard ending after {bound} "
                f"{estimate.makespan_s:,.0f} s on {estimate.concurrency:,} workers"
            )
        lines += [f"  warning: {warning}" for warning in result.warnings]
        return "\n".join(lines)

    def retry(self, run_id: str, settings: Mapping[str, Any] | None = None, force: bool = False) -> RetryResult:
        return RetryResult.model_validate(self.retry_answer(run_id, settings, force))

    def retry_answer(self, run_id: str, settings: Mapping[str, Any] | None = None, force: bool = False) -> Any:
        """The API's answer to a retry: a run's `RetryResult`, or a search's (`kind: search`)."""
        if settings:
            raise UsageError(
                f"--set on a stage's retry: the stage's API retries with the settings the run was planned with "
                f"({', '.join(settings)} cannot change there).",
                field="--set",
                value=dict(settings),
                hint="change the stage's settings (`sweep params set …`) and submit the sweep again, "
                "or retry without --set.",
            )
        return self.client.retry(run_id, force)

    def follow(self, run_id: str, *, quiet: bool) -> RunStatus:
        return watch(self.client, run_id, quiet=quiet)

    def status(self, run_id: str) -> RunStatus:
        return as_status(self.client.status(run_id))

    def runs(self, limit: int) -> list[RunRow]:
        return [
            RunRow(
                run_id=r["run_id"],
                experiment=r["experiment"],
                created_at=datetime.fromisoformat(r["created_at"]),
                points=r["points"],
                shards=r["shards"],
                description=r.get("description"),
            )
            for r in self.client.runs(limit)
        ]

    def athena(self) -> AthenaQueries:
        return AthenaQueries(
            boto3.client("athena", region_name=self.stage.region),
            self.stage.need("athena_workgroup"),
            self.stage.need("glue_database"),
        )

    def query(self, run_id: str, sql: str) -> QueryResult:
        return self.athena().run(sql, run_id, axes=self._axis_columns(run_id))

    def _axis_columns(self, run_id: str) -> str:
        """The run's typed axis columns, from its manifest in the bucket (none if it cannot be read)."""
        manifest = self._manifest(run_id)
        return axis_select(manifest.request, "athena") if manifest is not None else ""

    def manifest(self, run_id: str) -> RunManifest | None:
        return self._manifest(run_id)

    def metric_names(self, run_id: str) -> list[str]:
        """The metrics run `run_id` recorded, by one Athena query (no axis columns needed)."""
        return [str(row[0]) for row in self.athena().run(RECORDED_METRICS_SQL, run_id).rows]

    def _manifest(self, run_id: str) -> RunManifest | None:
        """The run's manifest in the bucket (None if the stage names no bucket or it has none)."""
        if not self.stage.results_bucket:
            return None
        from sweep_aws.s3 import S3Store

        store = S3Store(self.stage.results_bucket, client=boto3.client("s3", region_name=self.stage.region))
        data = store.get(layout.manifest_key(run_id))
        return RunManifest.from_json(data) if data is not None else None

    def summary(self, run_id: str, metric: str | None) -> Summary:
        answer = self.client.status(run_id)
        if metric:  # a typo is bad input naming the recorded metrics, as locally, not an empty summary
            require_recorded(run_id, [metric], self.metric_names(run_id))
        found = objective(answer["experiment"], metric)
        if found is None:
            raise UsageError(
                f"experiment `{answer['experiment']}` is not installed here, so its objective metric is unknown.",
                field="--metric",
                hint="name the metric to summarise with --metric.",
            )
        name, goal = found
        manifest = self._manifest(run_id)
        if manifest is None:  # the best point, as before "best settings" could be told apart
            return Summary(self.query(run_id, summary_sql(name, goal, answer["plan"]["repeats"])), name, goal)
        settings = Settings.of(manifest)
        return Summary(settings.summary(name, goal, lambda sql: self.query(run_id, sql)), name, goal, (), settings)

    def has_search(self, run_id: str) -> bool:
        """Whether the stage's bucket holds a search of this id (its record). A stage named by
        --endpoint alone does not say its bucket: its ids are runs (Athena), as before searches."""
        return bool(self.stage.results_bucket) and _bucket(self.stage).exists(layout.search_key(run_id))

    def local_copy(self, run_id: str) -> LocalBackend:
        """Download the run, or the search with every round it started, into `--out`: the local
        views then read it as they read what ran here."""
        from sweep_cli import render

        if self.has_search(run_id):
            fetched = download_search(self.stage, run_id, self.out)
            render.err.print(f"downloaded {fetched} changed objects of search {run_id} and its rounds into {self.out}")
        else:
            fetched = download(self.stage, run_id, self.out)
            render.err.print(f"downloaded {fetched} changed objects of run {run_id} into {self.out}")
        return LocalBackend(self.out)

    def next_steps(self, run_id: str, status: RunStatus) -> list[str]:
        steps = []
        if status.shards_failure or status.shards_pending:  # a retry reruns shards, not error rows
            steps.append(f"  rerun failed and missing shards with: sweep retry {run_id} {self.stage.flags}")
        steps.append(f'  query the results with: sweep results {run_id} {self.stage.flags} [--sql "…"]')
        return steps

    def no_runs_hint(self) -> str:
        return f"no runs on stage {self.stage.name}; submit one with `sweep submit FILE {self.stage.flags}`"


def _bucket(stage: StageInfo) -> S3Store:
    from sweep_aws.s3 import S3Store

    return S3Store(stage.need("results_bucket"), client=boto3.client("s3", region_name=stage.region))


def _no_run(stage: StageInfo, run_id: str) -> UsageError:
    # the stage and its bucket by name: a bucket from SWEEP_RESULTS_BUCKET may not be the stage's
    where = f"Stage `{stage.name}`" if stage.named else f"The stage at {stage.api_url}"
    return UsageError(
        f"the stage's bucket has no run `{run_id}`. {where} keeps its runs in bucket `{stage.results_bucket}`.",
        field="RUN_ID",
        value=run_id,
        hint=f"list the stage's runs with `sweep runs {stage.flags}`.",
    )


def download_search(stage: StageInfo, search_id: str, out: Path) -> int:
    """Copy a search's record and each round run it started (`<search>-r<nnn>`, numbered from 0
    without gaps) into `out`, each round with `download`: only what changed is fetched again."""
    from sweep_contracts.search import SearchManifest, round_run_id

    remote = _bucket(stage)
    record = remote.get(layout.search_key(search_id))
    if record is None:
        raise _no_run(stage, search_id)
    local, key = LocalStore(out), layout.search_key(search_id)
    fetched = int(local.get(key) != record)  # a search's record is written once: fetched once
    if fetched:
        local.put(key, record)
    for number in range(SearchManifest.from_json(record).request.search.rounds):
        run_id = round_run_id(search_id, number)
        if not remote.exists(layout.manifest_key(run_id)):
            break
        fetched += download(stage, run_id, out)
    return fetched


def download(stage: StageInfo, run_id: str, out: Path, threads: int = 16) -> int:
    """Copy the run's manifest, points and outcomes from the stage's bucket into `out` (the same
    layout), fetching only objects whose content changed since the last download."""
    remote = _bucket(stage)
    local = LocalStore(out)
    index_key = f"{layout.RUNS}/run_id={layout.checked_run_id(run_id)}/.download-index"
    known = dict(line.split("\t", 1) for line in (local.get(index_key) or b"").decode().splitlines() if "\t" in line)
    infos = [
        info
        for prefix in (layout.manifest_key(run_id), layout.points_prefix(run_id), layout.outcomes_prefix(run_id))
        for info in remote.list_info(prefix)
    ]
    if not infos:
        raise _no_run(stage, run_id)
    changed = [info for info in infos if known.get(info.key) != info.tag or not local.exists(info.key)]
    wanted = {info.key for info in infos}
    for key in local.list(layout.outcomes_prefix(run_id)):  # a failure replaced by a success on retry
        if key not in wanted:
            local.delete(key)

    def fetch(key: str) -> None:
        data = remote.get(key)
        if data is not None:
            local.put(key, data)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fetch, [info.key for info in changed]))
    local.put(index_key, "\n".join(f"{i.key}\t{i.tag}" for i in infos).encode())
    return len(changed)
