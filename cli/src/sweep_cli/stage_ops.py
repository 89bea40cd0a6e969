"""What the commands do against a deployed stage: submit, follow, retry, list, query."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from sweep_aws.s3 import S3Store
from sweep_cli import render
from sweep_cli.athena import AthenaQueries
from sweep_cli.errors import UsageError
from sweep_cli.query import QueryResult, objective, summary_sql
from sweep_cli.remote import StageClient
from sweep_cli.stage import StageInfo
from sweep_contracts import layout
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.status import RunStatus

POLL_S = 3.0


def as_status(answer: dict[str, Any]) -> RunStatus:
    return RunStatus.model_validate({k: answer[k] for k in RunStatus.model_fields if k in answer})


def watch(
    client: StageClient, run_id: str, *, quiet: bool = False, sleep: Callable[[float], None] = time.sleep
) -> RunStatus:
    """Poll GET /runs/{run_id} with a progress bar until no shard is pending."""
    from sweep_cli.progress import progress_bar

    status = as_status(client.status(run_id))
    with progress_bar(run_id, status.points_total, quiet) as bar:
        while True:
            bar.set(status.points_done, status.points_error, status.shards_failure)
            if status.done:
                return status
            sleep(POLL_S)
            status = as_status(client.status(run_id))


def athena_summary(
    client: StageClient, stage: StageInfo, run_id: str, metric: str | None
) -> tuple[QueryResult, str, str]:
    answer = client.status(run_id)
    found = objective(answer["experiment"], metric)
    if found is None:
        raise UsageError(
            f"experiment `{answer['experiment']}` is not installed here, so its objective metric is unknown.",
            field="--metric",
            hint="name the metric to summarise with --metric.",
        )
    name, goal = found
    result = athena(stage).run(summary_sql(name, goal, answer["plan"]["repeats"]), run_id)
    return result, name, goal


def athena(stage: StageInfo) -> AthenaQueries:
    return AthenaQueries(
        boto3.client("athena", region_name=stage.region), stage.need("athena_workgroup"), stage.need("glue_database")
    )


def download(stage: StageInfo, run_id: str, out: Path, threads: int = 16) -> int:
    """Copy the run's manifest, points and outcomes from the stage's bucket into `out` (the same
    layout), fetching only objects whose content changed since the last download."""
    remote = S3Store(stage.need("results_bucket"), client=boto3.client("s3", region_name=stage.region))
    local = LocalStore(out)
    index_key = f"{layout.RUNS}/run_id={run_id}/.download-index"
    known = dict(line.split("\t", 1) for line in (local.get(index_key) or b"").decode().splitlines() if "\t" in line)
    infos = [
        info
        for prefix in (layout.manifest_key(run_id), layout.points_prefix(run_id), layout.outcomes_prefix(run_id))
        for info in remote.list_info(prefix)
    ]
    if not infos:
        raise UsageError(
            f"the stage's bucket has no run `{run_id}`.",
            field="RUN_ID",
            value=run_id,
            hint="list the stage's runs with `sweep runs --stage …`.",
        )
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


def print_submitted(answer: dict[str, Any], stage: StageInfo) -> None:
    verb = "exists already" if answer["existing"] else "accepted"
    render.err.print(
        f"run {answer['run_id']} {verb}: {answer['points']:,} points in {answer['shards']:,} shards "
        f"of {answer['shard_size']:,} on stage {stage.name}\n  status: {answer['status_url']}\n"
        f"  follow: sweep status {answer['run_id']} --stage {stage.name} --watch"
    )
