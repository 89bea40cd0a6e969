"""`sweep run` of a file with a `search:` block: rounds of trials on this machine's process pool.

Each step reads the journal (the round runs and their rows under `--out`), starts the next round
(`sweep_orchestrator.search.rounds.advance`) and waits for its shards. An interrupted search is
resumed by `sweep run` of the same file and run id, or `sweep retry SEARCH`: the last round's
missing and `INTERRUPTED` shards run again first, and only then is the next round asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweep_cli import render
from sweep_cli.local.backend import LocalBackend, _check_model_server
from sweep_cli.local.engine import RunInterrupted
from sweep_cli.results.query import ResultsDB, metric_expr
from sweep_contracts.outcomes import ErrorCode
from sweep_contracts.search import SearchManifest
from sweep_orchestrator.search.journal import PointRow, RoundRecord, RowsOf, best_trial, read_rounds
from sweep_orchestrator.search.rounds import advance, load_search, prepare_search, start_search
from sweep_orchestrator.submit import validate

_SLACK_STEPS = 3
"""Steps past the budget's rounds the loop may take (resumes of an interrupted round)."""


def local_rows(out: Path) -> RowsOf:
    """The journal's row reader over a results directory (DuckDB)."""

    def rows_of(run_id: str, metric: str) -> list[PointRow]:
        db = ResultsDB(out, run_id)
        try:
            # metric_expr quotes the metric name as a SQL string literal
            result = db.query(f"SELECT series, status, {metric_expr(metric)} AS m FROM points")  # noqa: S608
        finally:
            db.close()
        return [PointRow(str(s), st == "ok", None if m is None else float(m)) for s, st, m in result.rows]

    return rows_of


class CachedRows:
    """`local_rows`, read once per round: the journal reads a round's rows only once the round is
    done, and a done round changes only when it is run again (`forget`). Without it each step
    re-read every earlier round: 21 rounds took 9 s a round (bench/search.py)."""

    def __init__(self, out: Path) -> None:
        self._read = local_rows(out)
        self._rows: dict[tuple[str, str], list[PointRow]] = {}

    def __call__(self, run_id: str, metric: str) -> list[PointRow]:
        key = (run_id, metric)
        if key not in self._rows:
            self._rows[key] = list(self._read(run_id, metric))
        return self._rows[key]

    def forget(self, run_id: str) -> None:
        self._rows = {key: rows for key, rows in self._rows.items() if key[0] != run_id}


def _unfinished(record: RoundRecord) -> bool:
    """A round an interrupted run left: shards without outcome, or stopped by the signal."""
    return not record.done or bool(record.status.error_codes.get(ErrorCode.INTERRUPTED.value))


def run_search(backend: LocalBackend, payload: Any, *, quiet: bool) -> SearchManifest:
    """Start (or resume) a search and run its rounds until its budget is spent."""
    rt = backend.runtime()
    # an LLM search whose server is down or lacks the model is refused before anything is written, as a run is
    _, probe = prepare_search(payload, rt)
    _check_model_server(validate(probe.request.model_dump(mode="json", exclude_none=True), rt))
    search, existing = start_search(payload, rt)
    return drive(backend, search, existing=existing, quiet=quiet)


def resume_search(backend: LocalBackend, run_id: str, *, quiet: bool) -> SearchManifest:
    search = load_search(backend.runtime(), run_id)
    return drive(backend, search, existing=True, quiet=quiet)


def drive(backend: LocalBackend, search: SearchManifest, *, existing: bool, quiet: bool) -> SearchManifest:
    """The rounds, until the budget is spent. A signal that stops a round is reported against the
    search, so "Resume with:" names `sweep retry SEARCH`, which resumes the search, not one round."""
    try:
        return _drive(backend, search, existing=existing, quiet=quiet)
    except RunInterrupted as stop:
        raise RunInterrupted(stop.signum, [search.run_id], stop.unfinished) from None


def _drive(backend: LocalBackend, search: SearchManifest, *, existing: bool, quiet: bool) -> SearchManifest:
    spec = search.request.search
    rows_of = CachedRows(backend.out)
    if not quiet:
        verb = "resuming" if existing else "search"
        render.err.print(
            render.shown(
                f"{verb} {search.run_id}: {spec.budget.trials} trials in {spec.rounds} rounds of {spec.batch} "
                f"({spec.sampler}, seed {spec.seed}), {search.request.trial_points} points per trial, "
                f"{search.objective.direction} {search.objective.metric} → {backend.out}"
            )
        )
    for _ in range(spec.rounds + _SLACK_STEPS):
        rt = backend.runtime()
        rounds = read_rounds(rt.store, search, rows_of)
        if rounds and _unfinished(rounds[-1]):
            rows_of.forget(rounds[-1].run_id)
            backend.retry(rounds[-1].run_id)
            backend.follow(rounds[-1].run_id, quiet=True)
            continue
        step = advance(rt, search, rows_of)
        if step.kind == "done":
            if not quiet:
                render.err.print(render.shown(f"search {search.run_id} done: {step.reason}"))
            break
        assert step.round is not None  # started (a local round is never left running)
        backend.follow(step.submitted.run_id if step.submitted else "", quiet=True)
        if not quiet:
            render.err.print(render.shown(round_line(search, read_rounds(rt.store, search, rows_of), step.round)))
    return search


def round_line(search: SearchManifest, rounds: list[RoundRecord], number: int) -> str:
    trials = [t for r in rounds for t in r.trials]
    mine = [t for t in trials if t.round == number]
    failed = sum(t.state == "fail" for t in mine)
    best = best_trial(trials, search.objective.direction)
    shown = (
        f"best so far {best.value:.6g} (trial {best.number})" if best and best.value is not None else "no trial ok yet"
    )
    fails = f", {failed} failed" if failed else ""
    return f"round {number + 1}/{search.request.search.rounds}: {len(mine)} trials{fails}; {shown}"
