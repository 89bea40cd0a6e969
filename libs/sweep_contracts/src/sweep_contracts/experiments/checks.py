"""Checking a request's config against an experiment's schema at submit time: every distinct
axis value is validated (in O(total axis values)), and each problem names where in the request the
offending value came from. Cross-field rules on combinations surface as point errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sweep_contracts.errors import ExperimentConfigError, FieldProblem
from sweep_contracts.points import PointSpace
from sweep_contracts.request import SweepRequest
from sweep_contracts.validation import field_path, problems_from

if TYPE_CHECKING:
    from sweep_contracts.experiments.api import Experiment


def check_request(experiment: Experiment[Any], request: SweepRequest, space: PointSpace | None = None) -> None:
    """Raise `ExperimentConfigError` (up to 10 problems, the first in the message) where a value of
    the request does not validate into `experiment`'s config model."""
    space = space or PointSpace(request, request.config)
    problems: list[FieldProblem] = []
    for series, index, _axis, effective in space.probes():
        try:
            experiment.parse_config(effective)
        except ValidationError as exc:
            for problem in problems_from(exc, experiment.config_fields()):
                source = _source_field(request, series, index, problem.field)
                problems.append(FieldProblem(field=source, message=problem.message, value=problem.value))
            if len(problems) >= 10:
                break
    if problems:
        first = problems[0]
        raise ExperimentConfigError(
            f"`{first.field}`: {first.message} (experiment `{experiment.name}`).",
            field=first.field,
            value=first.value,
            hint=f"see the `{experiment.name}` config fields with `sweep experiments {experiment.name}`.",
            problems=_unique(problems),
        )


def _unique(problems: Iterable[FieldProblem]) -> list[FieldProblem]:
    seen: dict[tuple[str, str], FieldProblem] = {}
    for p in problems:
        seen.setdefault((p.field, p.message), p)
    return list(seen.values())


def _axis_for(names: Iterable[str], path: str) -> str | None:
    """The longest parameter name that `path` (a dotted config path) is at or inside."""
    inside = [n for n in names if path == n or path.startswith((f"{n}.", f"{n}["))]
    return max(inside, key=len, default=None)


def _source_field(request: SweepRequest, series: str, index: int, path: str) -> str:
    """Where in the request the offending value came from (an axis, a point, or `config`), as a
    full dotted path: `grid.optim.lr`, `config.optim.momentum`."""
    sources: list[tuple[Iterable[str], list[str | int]]] = []
    if request.grid is not None:
        sources.append((request.grid, ["grid"]))
    sources += [(g.axes, ["grids", i, "axes"]) for i, g in enumerate(request.grids or ()) if g.name == series]
    if request.points is not None:
        sources.append((request.points[index], ["points", index]))
    if request.sample is not None:
        sources.append((request.sample.space, ["sample", "space"]))
    for names, prefix in sources:
        axis = _axis_for(names, path)
        if axis is not None:
            return field_path([*prefix, axis]) + path[len(axis) :]
    return field_path(["config", path]) if path else "config"
