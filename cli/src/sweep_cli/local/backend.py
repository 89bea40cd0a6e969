"""The local backend: runs in a results directory, shards on this machine's process pool, SQL on DuckDB."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

import typer

from sweep_cli.errors import UsageError
from sweep_cli.local import lock, sizing, slow_points
from sweep_cli.local.engine import PoolDispatcher, RunInterrupted, ShardDone, default_workers, local_runtime
from sweep_cli.local.session import StopSignals, explain
from sweep_cli.report.llm import CALL_METRIC, per_option
from sweep_cli.results.head import head_columns, suggested_sql
from sweep_cli.results.metrics import require_recorded
from sweep_cli.results.query import QueryResult, ResultsDB, Settings, objective
from sweep_cli.runs import RunRow, Summary
from sweep_contracts import layout
from sweep_contracts.experiments import Registry
from sweep_contracts.manifest import RunManifest
from sweep_contracts.planning import ShardPlan
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_contracts.version import code_version, experiment_version
from sweep_orchestrator.retry import RetryResult, retry_run, with_settings
from sweep_orchestrator.runs import delete_run, differences, list_runs, load_manifest
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.status import RunStatus, run_status
from sweep_orchestrator.submit import SubmitResult, Validated, plan_run, run_manifest, submit_manifest, validate


class LocalBackend:
    """Runs under `out`. The pool starts on the first dispatch and lives until the backend is left.
    From then on a stop signal (Ctrl-C, SIGTERM, SIGHUP) ends the pool, records the unfinished
    shards as `INTERRUPTED`, says how to resume and exits 128 + the signal's number (see `session`)."""

    shards_run_here = True
    summary_on_finish = True

    def __init__(self, out: Path, workers: int | None = None, settings: SystemSettings | None = None) -> None:
        if out.exists() and not out.is_dir():  # refuse before anything is planned or written
            raise UsageError(
                f"--out {out} is a file, not a results directory.",
                field="--out",
                value=str(out),
                hint="give a directory (it is created if missing), e.g. `--out sweep-results`.",
            )
        self.out = out
        self.store = LocalStore(out)
        self.workers = workers or default_workers()
        self.settings = settings
        self._dispatcher: PoolDispatcher | None = None
        self._signals = StopSignals()
        self._locked: str | None = None
        self.following: lock.Holder | None = None
        """The other `sweep run` process running the submitted run, which `follow` then follows."""

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self._leave(exc)
        finally:
            if self._locked is not None:  # after the interrupted shards are recorded
                lock.release(self.out, self._locked)

    def _leave(self, exc: BaseException | None) -> None:
        if self._dispatcher is None:
            return
        try:
            stop = exc if isinstance(exc, RunInterrupted) else None
            if stop is None and self._signals.received is not None:  # after the last shard finished
                try:
                    self._dispatcher.interrupt(self._signals.received)
                except RunInterrupted as late:
                    stop = late
            if stop is not None:
                explain(stop, self.out)
                raise typer.Exit(stop.exit_code) from None
        finally:
            self._dispatcher.shutdown()
            self._signals.__exit__()

    def _runtime(self, settings: SystemSettings) -> Runtime:
        if self._dispatcher is not None:  # a search's rounds and retries share one pool
            return Runtime(store=self.store, dispatcher=self._dispatcher, settings=lambda: settings, on_lambda=False)
        runtime, self._dispatcher = local_runtime(self.out, self.workers, settings)
        self._dispatcher.stop_requested = self._signals.__enter__().first
        return runtime

    def runtime(self) -> Runtime:
        """The adapters this backend runs through, with its settings (the defaults unless given)."""
        return self._runtime(self.settings or SystemSettings.resolve({}, source="default"))

    def submit(self, payload: Any) -> SubmitResult:
        PoolDispatcher.start_loading()
        settings = self.settings or SystemSettings.resolve({}, source="default")
        runtime = self._runtime(settings)
        # a bad request fails here, before any server is asked, a lock taken or a point timed
        validated = validate(payload, runtime)
        _check_model_server(validated)
        run_id = validated.run_id
        self.following = lock.acquire(self.out, run_id)
        if self.following is not None:  # another `sweep run` runs it: its manifest is written first
            _wait_for(lambda: self.has_run(run_id) or lock.running_elsewhere(self.out, run_id) is None)
            result, _ = submit_manifest(plan_run(validated, runtime), runtime)
            return result
        self._locked = run_id
        if sizing.measured(settings):
            settings = self._sized(validated, runtime, settings)
            runtime = replace(runtime, settings=lambda: settings)
        # planned once, with the settings it runs with (measured or not)
        result, _ = submit_manifest(plan_run(validated, runtime), runtime)
        return result

    def _sized(self, validated: Validated, runtime: Runtime, settings: SystemSettings) -> SystemSettings:
        """The settings with `shard_size` measured on this machine (`sweep_cli.local.sizing`), unless the
        request sets it or names a run that exists (which keeps its plan)."""
        request, size = validated.request, validated.space.size
        if request.shard_size is not None or size == 0 or (request.run_id is not None and self.has_run(request.run_id)):
            return settings
        assert self._dispatcher is not None  # set by `_runtime`
        # the probe times points spread over the whole sweep: its task is the sweep as one shard, not a plan
        whole = ShardPlan(points_total=size, shard_size=size, shard_count=1, shard_size_source="probe")
        seconds = self._dispatcher.probe(run_manifest(validated, runtime, whole), sizing.PROBE_S, sizing.PROBE_POINTS)
        return settings if seconds is None else sizing.sized(settings, seconds, self.workers)

    def retry(self, run_id: str, settings: Mapping[str, Any] | None = None, force: bool = False) -> RetryResult:
        # a retry runs with the settings the run was planned with, not today's, unless told otherwise
        manifest = with_settings(load_manifest(self.store, run_id), settings or {})
        return retry_run(self._runtime(manifest.effective_settings()), run_id, settings, all_overdue=True)

    def has_run(self, run_id: str) -> bool:
        return self.store.exists(layout.manifest_key(run_id))

    def _not_running(self, run_id: str) -> None:
        other = lock.running_elsewhere(self.out, run_id)
        if other is not None:
            raise UsageError(
                f"run {run_id} is running in another `sweep run` (process {other.pid} on {other.host}): "
                "removing it now would take its results from under it.",
                field="RUN_ID",
                value=run_id,
                hint="wait until it ends (or stop that process), then remove it.",
            )

    def run_line(self, run_id: str) -> str:
        """One line about a run: its id, experiment, points and when it was created (unknown: an error)."""
        manifest = load_manifest(self.store, run_id)
        self._not_running(run_id)
        status = run_status(self.store, run_id, manifest)
        return (
            f"run {run_id} ({manifest.request.experiment}): {manifest.plan.points_total:,} points, "
            f"{status.label}, created {manifest.created_at:%Y-%m-%d %H:%M} UTC"
        )

    def has_search(self, run_id: str) -> bool:
        return self.store.exists(layout.search_key(run_id))

    def remove_search(self, run_id: str) -> int:
        """Delete a search's rounds, then its record; answers how many objects."""
        from sweep_orchestrator.search.rounds import remove_search

        return remove_search(self.store, run_id)

    def remove(self, run_id: str) -> int:
        """Delete the run's objects; answers how many. A run another `sweep run` runs is refused."""
        self._not_running(run_id)
        return delete_run(self.store, run_id)

    def follow(self, run_id: str, *, quiet: bool) -> RunStatus:
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher.points_dispatched:
            from sweep_cli.progress import progress_bar

            # the summary's DuckDB (~0.2 s to import) loads while this process only waits on shards
            threading.Thread(target=importlib.import_module, args=("duckdb",), daemon=True).start()

            with progress_bar(run_id, dispatcher.points_dispatched, quiet) as bar:

                def on_done(done: ShardDone) -> None:
                    bar.advance(done.points, done.points_failed, done.failed)

                def on_tick() -> None:  # a hanging point is named, not left to a bar that stopped
                    found = dispatcher.longest_running()
                    slow = found is not None and found[2] >= slow_points.SLOW_POINT_S
                    bar.note(slow_points.slow_text(*found) if found is not None and slow else None)

                dispatcher.wait(on_done, on_tick)
                bar.note(None)  # every shard is done: nothing runs long
            dispatcher.points_dispatched = 0  # every dispatched shard is done: the next follow counts afresh
        elif self.following is not None:
            return self._follow_elsewhere(run_id, quiet)
        return self.status(run_id)

    def _follow_elsewhere(self, run_id: str, quiet: bool) -> RunStatus:
        """Follow a run another `sweep run` process runs, from its outcomes, until that process
        ends (or this one is asked to stop, which leaves the other running)."""
        from sweep_cli.progress import progress_bar

        status = self.status(run_id)
        with progress_bar(run_id, status.points_total, quiet) as bar:
            while not status.done and lock.running_elsewhere(self.out, run_id) is not None:
                bar.set(status.points_ok + status.points_error, status.points_error, status.shards_failure)
                if self._signals.received is not None:
                    break
                time.sleep(FOLLOW_POLL_S)
                status = self.status(run_id)
            bar.set(status.points_ok + status.points_error, status.points_error, status.shards_failure)
        return status

    def status(self, run_id: str) -> RunStatus:
        return run_status(self.store, run_id)

    def runs(self, limit: int) -> list[RunRow]:
        return [
            RunRow(
                run_id=m.run_id,
                experiment=m.request.experiment,
                created_at=m.created_at,
                points=m.plan.points_total,
                shards=m.plan.shard_count,
                description=m.request.description,
                status=run_status(self.store, m.run_id, m),
            )
            for m in list_runs(self.store, limit)
        ]

    def manifest(self, run_id: str) -> RunManifest:
        return load_manifest(self.store, run_id)

    def query(self, run_id: str, sql: str) -> QueryResult:
        load_manifest(self.store, run_id)  # an unknown run is an error, not an empty answer
        db = ResultsDB(self.out, run_id)
        try:
            return db.query(sql)
        finally:
            db.close()

    def summary(self, run_id: str, metric: str | None) -> Summary | None:
        manifest = load_manifest(self.store, run_id)
        # copy=True: the summary of a finished run (the end of `sweep run`) copies its views into one file
        # each first, and it, the next steps and every later reader read those: at 100,000 points in
        # 1,000 shards the summary and next steps took 12-28 s over the shard files, 4.4-8 s with the copy
        # written first (issue 23, bench/RESULTS.md); a running run is never copied
        db = ResultsDB(self.out, run_id, copy=True)
        try:
            if metric:
                require_recorded(run_id, [metric], db.metric_names())
            found = objective(manifest.request.experiment, metric, db.metric_names)
            if found is None:
                return None
            name, goal = found
            options = tuple(per_option(db, manifest, name, goal)) if db.records(CALL_METRIC) else ()
            settings = Settings.of(manifest)
            return Summary(settings.summary(name, goal, db.query), name, goal, options, settings)
        finally:
            db.close()

    def describe(self, result: SubmitResult) -> str:
        if result.existing and self.following is not None:
            other = self.following
            return (
                f"run {result.run_id} is running in another `sweep run` (process {other.pid} on {other.host}, "
                f"since {other.started_at[:19].replace('T', ' ')} UTC); following it until it ends."
            )
        if result.existing:
            text = f"run {result.run_id} already exists with this content; showing it."
            manifest = load_manifest(self.store, result.run_id)
            recorded = manifest.code_version
            changed = differences(recorded, {**code_version(), **_experiment_version(manifest.request.experiment)})
            if recorded and changed:
                from rich.markup import escape

                from sweep_cli.render import visible

                # the recorded versions come from the store (a plugin names its own): text, not markup
                text += (
                    f"\n[yellow]the code changed since it ran[/yellow] ({escape(visible('; '.join(changed)))}): "
                    "these are the old "
                    "code's results. Run it again with `--force` (replaces them) or under a new name with "
                    "`--run-id NAME`."
                )
            return text
        return (
            f"run {result.run_id}: {result.points:,} points in {result.shards:,} shards of {result.shard_size:,} "
            f"on {self.workers} workers → {self.out}"
        )

    def local_copy(self, run_id: str) -> LocalBackend:
        return self

    def next_steps(self, run_id: str, status: RunStatus) -> list[str]:
        steps = []
        if status.shards_failure or status.shards_pending:  # a retry reruns shards, not error rows
            steps.append(f"  rerun failed and missing shards with: sweep retry {run_id} --out {self.out}")
        # a query whose answer fits a terminal (`SELECT *` folded 5 rows into 135 lines at 120 columns)
        manifest = load_manifest(self.store, run_id)
        axes, metrics = head_columns(manifest, lambda: self._recorded(run_id))
        example = f'"{suggested_sql(axes, metrics)}"'  # a command line to show, not a query to run
        steps.append(
            f"\nresults in {self.out}/points/run_id={run_id}/\n"
            f"  sweep results {run_id} --out {self.out} --head 5\n"
            f"  sweep results {run_id} --out {self.out} --sql {example}\n"
            f"  sweep report {run_id} --out {self.out}"
        )
        return steps

    def _recorded(self, run_id: str) -> list[str]:
        db = ResultsDB(self.out, run_id)
        try:
            return db.metric_names()
        finally:
            db.close()

    def no_runs_hint(self) -> str:
        return f"no runs in {self.out}; start one with `sweep run examples/maze.yaml --out {self.out}`"


FOLLOW_POLL_S = 0.5
"""How often a run that another process runs is read while it is followed."""
FOLLOW_START_S = 30.0
"""How long to wait for the manifest of a run another process has just locked."""


def _wait_for(done: Callable[[], bool], seconds: float = FOLLOW_START_S) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.1)


_PROBED_POINTS = 10_000
"""Points whose endpoint and model are read to probe them (an axis may vary either); past this,
the rest are not read (reading is cheap; a bigger LLM sweep is rare and costly anyway)."""


def _check_model_server(validated: Validated) -> None:
    """An LLM experiment's run is refused (exit 2) before any shard starts when a server its points
    name cannot be reached or does not serve their model (`sweep_experiments.llm.probe`); each
    (endpoint, model) is asked once."""
    experiment, space = validated.experiment, validated.space
    from sweep_experiments.llm.config import EndpointConfig

    if not issubclass(experiment.config_model, EndpointConfig):
        return
    from sweep_experiments.llm.probe import EndpointProbeError, check_served

    if space.size == 0:
        return
    first = experiment.parse_config(space.effective_config(space.point(0)))
    protocol = str(getattr(first, "protocol", "openai"))
    targets: dict[tuple[str, str], None] = {}
    for index in range(min(space.size, _PROBED_POINTS)):
        effective = space.effective_config(space.point(index))
        endpoint = str(effective.get("endpoint", first.endpoint)).rstrip("/")
        targets[(endpoint, str(effective.get("model", first.model)))] = None
    for endpoint, model in targets:
        try:
            check_served(endpoint, model, protocol)
        except EndpointProbeError as exc:
            raise UsageError(exc.message, field="config.endpoint", value=endpoint, hint=exc.hint) from None


def _experiment_version(name: str) -> dict[str, str]:
    """The experiment's code version now, for comparing with a run's; none if it cannot load."""
    found = Registry.default().find(name)
    return experiment_version(found) if found else {}
