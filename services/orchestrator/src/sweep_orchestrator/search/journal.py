"""The store is the journal: a search's trials, read back from its round runs and their rows.

Round `n` is the run `round_run_id(search, n)`; its manifest holds each trial's parameters (one
grid per trial, named for the trial), its rows hold each trial's points (series = trial). Nothing
else records a trial, so what the optimiser is told is always what the store says."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import JsonValue

from sweep_contracts import layout
from sweep_contracts.manifest import RunManifest
from sweep_contracts.search import SearchManifest, round_run_id, trial_number
from sweep_contracts.storage import ObjectStore
from sweep_orchestrator.status import RunStatus, run_status

TrialState = Literal["complete", "fail", "running"]


@dataclass(frozen=True)
class PointRow:
    """What the journal reads of one evaluated point: its trial's series, status and objective."""

    series: str
    ok: bool
    value: float | None


RowsOf = Callable[[str, str], Sequence[PointRow]]
"""`rows_of(run_id, metric)`: the run's point rows with the metric's value (None where it has none)."""


@dataclass(frozen=True)
class SeriesTotal:
    """What the journal needs of one trial's points: how many gave a finite objective and their
    sum, how many did not (failed, or gave no finite value), and the values when a reader has them."""

    count: int = 0
    total: float = 0.0
    failed: int = 0
    values: tuple[float, ...] = ()


class TotalsOf(Protocol):
    """A reader that sums a run's points per series itself (the stage's reads the outcomes'
    tallies: `sweep_orchestrator.search.totals`)."""

    def totals(self, run_id: str, metric: str) -> Mapping[str, SeriesTotal]:
        """Per series of the run, its points' objective summed."""
        ...


Reader = RowsOf | TotalsOf
"""Where a round's trial values come from: point rows (the local store) or per-series totals."""


def totals_from_rows(rows: Iterable[PointRow]) -> dict[str, SeriesTotal]:
    """The rows summed per series, in row order (the mean is the same float as the values' mean)."""
    values: dict[str, list[float]] = {}
    failed: dict[str, int] = {}
    for row in rows:
        if row.ok and row.value is not None and math.isfinite(row.value):
            values.setdefault(row.series, []).append(row.value)
        else:
            failed[row.series] = failed.get(row.series, 0) + 1
    return {
        series: SeriesTotal(len(got := values.get(series, [])), sum(got), failed.get(series, 0), tuple(got))
        for series in {**values, **failed}
    }


def read_totals(reader: Reader, run_id: str, metric: str) -> Mapping[str, SeriesTotal]:
    if callable(reader):
        return totals_from_rows(reader(run_id, metric))
    return reader.totals(run_id, metric)


@dataclass(frozen=True)
class TrialRecord:
    """One trial: its parameters, and once its round is done, its objective or its failure.

    `value` is the mean objective over the trial's points (every nuisance value and repeat);
    a trial with a point that failed, or a shard that never wrote its points, is `fail`:
    the mean of fewer items would not compare like with like."""

    number: int
    round: int
    params: dict[str, JsonValue]
    state: TrialState
    value: float | None = None
    values: tuple[float, ...] = ()
    points_ok: int = 0
    points_total: int = 0


@dataclass(frozen=True)
class RoundRecord:
    """One round's run, its status and its trials."""

    number: int
    run_id: str
    status: RunStatus
    trials: list[TrialRecord] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Every shard of the round has an outcome (success or failure)."""
        return self.status.done


def trial_params(manifest: RunManifest, search: SearchManifest) -> dict[int, dict[str, JsonValue]]:
    """Each trial's parameters, from its round's manifest: its grid's one-value axes that are
    searched (the nuisance axes are not parameters)."""
    trials: dict[int, dict[str, JsonValue]] = {}
    space = search.request.search.space
    for grid in manifest.request.grids or ():
        number = trial_number(grid.name)
        if number is not None:
            trials[number] = {name: values[0] for name, values in grid.axes.items() if name in space}
    return trials


def read_round(
    store: ObjectStore, search: SearchManifest, number: int, rows_of: Reader, manifest: RunManifest
) -> RoundRecord:
    run_id = round_run_id(search.run_id, number)
    status = run_status(store, run_id, manifest)
    params = trial_params(manifest, search)
    if not status.done:
        running = [TrialRecord(n, number, p, "running") for n, p in sorted(params.items())]
        return RoundRecord(number, run_id, status, running)
    totals = read_totals(rows_of, run_id, search.objective.metric)
    expected = search.request.trial_points
    trials = []
    for n, p in sorted(params.items()):
        got = totals.get(f"t{n:05d}", SeriesTotal())
        if got.count == expected and not got.failed:
            mean = got.total / got.count
            trials.append(TrialRecord(n, number, p, "complete", mean, got.values, got.count, expected))
        else:
            trials.append(TrialRecord(n, number, p, "fail", None, got.values, got.count, expected))
    return RoundRecord(number, run_id, status, trials)


def read_rounds(store: ObjectStore, search: SearchManifest, rows_of: Reader) -> list[RoundRecord]:
    """Every round the store holds, in order: they are numbered from 0 without gaps, since a round
    starts only once the one before it is done."""
    rounds: list[RoundRecord] = []
    for number in range(search.request.search.rounds):
        data = store.get(layout.manifest_key(round_run_id(search.run_id, number)))
        if data is None:
            break
        rounds.append(read_round(store, search, number, rows_of, RunManifest.from_json(data)))
    return rounds


def finished_trials(rounds: Sequence[RoundRecord]) -> list[TrialRecord]:
    """The trials of done rounds, by number: what the optimiser is told, each exactly once."""
    return sorted((t for r in rounds if r.done for t in r.trials), key=lambda t: t.number)


def best_trial(trials: Sequence[TrialRecord], direction: Literal["max", "min"]) -> TrialRecord | None:
    """The complete trial with the best value; of ties, the lowest number."""
    complete = [t for t in trials if t.state == "complete" and t.value is not None]
    if not complete:
        return None
    sign = -1.0 if direction == "max" else 1.0
    return min(complete, key=lambda t: (sign * (t.value or 0.0), t.number))
