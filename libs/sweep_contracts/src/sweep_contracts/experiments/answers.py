"""What an experiment's points answered, as float metrics: one point's (`metrics_of`) and a
`run_batch` call's (`batch_answers`, kept as metric columns when it can be), each checked to be a
mapping of finite numbers named unlike sweep's own columns."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

from sweep_contracts.schema import RESERVED_NAMES, reserved_column


def metrics_of(experiment: str, raw: object) -> dict[str, float]:
    """One point's answer as float metrics; `TypeError`/`ValueError` where it is not a mapping of
    finite numbers, or a metric is named like one of sweep's own columns."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise TypeError(f"experiment `{experiment}` returned {type(raw).__name__}; it must return a mapping of metrics")
    metrics: dict[str, float] = {}
    items: list[tuple[object, object]] = list(raw.items())  # declared numbers; checked as any value
    for name, value in items:
        # numbers.Real: Python's int/float/bool and numpy's scalars (np.int64, np.float32, …);
        # the exact-type test first spares the common case the slower ABC check
        if type(value) is not float and not isinstance(value, numbers.Real):
            raise TypeError(f"metric `{name}` is {value!r} ({type(value).__name__}); metrics must be numbers")
        number = float(value)
        if not math.isfinite(number):
            # stored, it would poison every mean and "best" that includes it: the point is an error
            raise ValueError(f"metric `{name}` is {number}; metrics must be finite numbers")
        metrics[str(name)] = number
    _check_metric_names(metrics)
    return metrics


def batch_answers(experiment: str, raw: Mapping[Any, Any] | Sequence[Any], count: int) -> BatchAnswers:
    """What `run_batch` of `experiment` returned for `count` configs: per config its metrics or the
    error they are. Raises where the answer as a whole is malformed (wrong length, a column not
    named by text)."""
    if isinstance(raw, Mapping):
        columns = _metric_columns(experiment, raw, count)
        if _finite_float_columns(columns):
            return BatchAnswers(count, columns=columns)
        answers: list[Any] = BatchAnswers(count, columns=columns).rows()  # checked per answer below
    else:
        answers = list(raw)
    if len(answers) != count:
        raise ValueError(f"run_batch of `{experiment}` returned {len(answers)} results for {count} configs")
    if _all_finite_floats(answers):
        return BatchAnswers(count, rows=list(map(dict, answers)))
    results: list[dict[str, float] | Exception] = []
    for answer in answers:
        try:
            results.append(metrics_of(experiment, answer))
        except (TypeError, ValueError) as exc:
            results.append(exc)
    return BatchAnswers(count, rows=results)


def _metric_columns(experiment: str, raw: Mapping[Any, Any], count: int) -> dict[str, list[Any]]:
    """Metric columns as lists, each checked to hold one value per config."""
    columns: dict[str, list[Any]] = {}
    for name, values in raw.items():
        if not isinstance(name, str):
            raise TypeError(f"run_batch of `{experiment}` returned a column named {name!r}; names must be text")
        # numpy's tolist gives Python floats (its float64 scalars are floats too, but slower)
        listed = values.tolist() if hasattr(values, "tolist") else list(values)
        if len(listed) != count:
            raise ValueError(
                f"run_batch of `{experiment}` returned {len(listed)} values of metric `{name}` for {count} configs"
            )
        columns[name] = listed
    return columns


def _all_finite_floats(answers: list[Any]) -> bool:
    """Whether every answer maps text to finite floats, checked for the whole batch at once by C
    loops (a Python check per point was ~7% of a near-zero-cost shard): the types as sets, and
    finiteness by their sum, which is finite only when every value is (an overflowing sum of finite
    values only sends the batch to the check per answer, which gives the same results). Then
    `metrics_of` would return each answer unchanged."""
    if not all(type(answer) is dict for answer in answers):
        return False
    values = list(chain.from_iterable(map(dict.values, answers)))
    names = set(chain.from_iterable(map(dict.keys, answers)))
    return (
        set(map(type, values)) <= {float}
        and set(map(type, names)) <= {str}
        and math.isfinite(sum(values))
        and not any(map(reserved_column, names))
    )


def _finite_float_columns(columns: Mapping[str, list[Any]]) -> bool:
    """`_all_finite_floats` for metric columns."""
    return not any(map(reserved_column, columns)) and all(
        set(map(type, values)) <= {float} and math.isfinite(sum(values)) for values in columns.values()
    )


def _check_metric_names(metrics: Mapping[str, float]) -> None:
    """A metric named like one of sweep's own columns (ignoring case) makes its point an error: in
    `sweep.load` and SQL its column would shadow, or be shadowed by, the built-in one. Renaming it
    silently would break every query written for the experiment's documented metrics."""
    for name in metrics:
        column = reserved_column(name)
        if column is not None:
            raise ValueError(
                f"metric `{name}` is named like sweep's own column `{column}` (names are compared ignoring "
                f"case); rename it in the experiment: reserved names are {', '.join(RESERVED_NAMES)}"
            )


class BatchAnswers:
    """What a `run_batch` call answered: metric `columns` of finite floats (every point answered),
    or `rows`, per point its metrics or the error its metrics are."""

    __slots__ = ("_rows", "columns", "count")

    def __init__(
        self,
        count: int,
        *,
        columns: dict[str, list[float]] | None = None,
        rows: list[dict[str, float] | Exception] | None = None,
    ) -> None:
        self.count = count
        self.columns = columns
        self._rows = rows

    def rows(self) -> list[dict[str, float] | Exception]:
        if self._rows is None:
            columns = self.columns or {}
            self._rows = (
                [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
                if columns
                else [{} for _ in range(self.count)]  # no metric at all: each point answered nothing
            )
        return self._rows
