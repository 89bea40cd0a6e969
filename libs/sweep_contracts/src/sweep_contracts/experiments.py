"""The experiment registry: an experiment is a name, a pydantic config model and a function
`(config) -> metrics`. Experiments register through the entry point group `sweep.experiments`:

```toml
[project.entry-points."sweep.experiments"]
my-experiment = "my_package.module:EXPERIMENT"
```
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from sweep_contracts.errors import ExperimentConfigError, FieldProblem, UnknownExperimentError
from sweep_contracts.points import PointSpace
from sweep_contracts.request import SEED, SweepRequest
from sweep_contracts.validation import field_path, problems_from

ENTRY_POINT_GROUP = "sweep.experiments"

C = TypeVar("C", bound=BaseModel)
Metrics = Mapping[str, float | int | bool]


@dataclass(frozen=True)
class Objective:
    """The metric that ranks points, and whether more or less is better."""

    metric: str
    goal: Literal["max", "min"] = "max"


@dataclass(frozen=True)
class Experiment(Generic[C]):
    """A registered experiment.

    `run(config)` gets the point's effective config validated into `config_model` and returns
    numeric metrics. With `secrets`, it is called as `run(config, secrets)`, where `secrets`
    maps each declared name to its value from the stage's secret store (never from the event).
    """

    name: str
    config_model: type[C]
    run: Callable[..., Metrics]
    description: str = ""
    objective: Objective | None = None
    metrics: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    _takes_seed: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_takes_seed", SEED in self.config_model.model_fields)

    def config_fields(self) -> list[str]:
        return list(self.config_model.model_fields)

    def parse_config(self, effective: Mapping[str, Any]) -> C:
        """Validate one point's effective config; pydantic's error propagates."""
        data = effective if self._takes_seed else {k: v for k, v in effective.items() if k != SEED}
        return self.config_model.model_validate(data)

    def evaluate(self, config: C, secrets: Mapping[str, str] | None = None) -> dict[str, float]:
        """Run the experiment on a validated config; metrics come back as floats."""
        raw = self.run(config, secrets or {}) if self.secrets else self.run(config)
        if not isinstance(raw, Mapping):
            raise TypeError(
                f"experiment `{self.name}` returned {type(raw).__name__}; it must return a mapping of metrics"
            )
        metrics: dict[str, float] = {}
        for name, value in raw.items():
            if not isinstance(value, int | float):
                raise TypeError(f"metric `{name}` is {value!r} ({type(value).__name__}); metrics must be numbers")
            metrics[str(name)] = float(value)
        return metrics

    def check_request(self, request: SweepRequest, space: PointSpace | None = None) -> None:
        """Validate the request's config against this experiment's schema at submit time, so a
        bad config is one clear error, not N failed shards. Every distinct axis value is checked
        (in O(total axis values)); cross-field rules on combinations surface as point errors."""
        space = space or PointSpace(request, request.config)
        problems: list[FieldProblem] = []
        for series, index, axis, effective in space.probes():
            try:
                self.parse_config(effective)
            except ValidationError as exc:
                for problem in problems_from(exc, self.config_fields()):
                    key = problem.field.split(".")[0].split("[")[0]
                    source = _source_field(request, series, index, axis, key)
                    problems.append(FieldProblem(field=source, message=problem.message, value=problem.value))
                if len(problems) >= 10:
                    break
        if problems:
            first = problems[0]
            raise ExperimentConfigError(
                f"`{first.field}`: {first.message} (experiment `{self.name}`).",
                field=first.field,
                value=first.value,
                hint=f"see the `{self.name}` config fields with `sweep experiments {self.name}`.",
                problems=_unique(problems),
            )


def _unique(problems: Iterable[FieldProblem]) -> list[FieldProblem]:
    seen: dict[tuple[str, str], FieldProblem] = {}
    for p in problems:
        seen.setdefault((p.field, p.message), p)
    return list(seen.values())


def _source_field(request: SweepRequest, series: str, index: int, axis: str, key: str) -> str:
    """Where in the request the offending value came from: an axis, a point, or `config`."""
    if request.grid is not None and key in request.grid:
        return field_path(["grid", key])
    for g, grid in enumerate(request.grids or ()):
        if grid.name == series and key in grid.axes:
            return field_path(["grids", g, "axes", key])
    if request.points is not None and key in request.points[index]:
        return field_path(["points", index, key])
    if request.sample is not None and key in request.sample.space:
        return field_path(["sample", "space", key])
    return field_path(["config", key]) if key else "config"


class Registry:
    """Experiments by name. `Registry.default()` loads the installed entry points once."""

    _default: Registry | None = None
    _lock = threading.Lock()

    def __init__(self, experiments: Iterable[Experiment[Any]] = ()) -> None:
        self._experiments: dict[str, Experiment[Any]] = {}
        for experiment in experiments:
            self.register(experiment)

    def register(self, experiment: Experiment[Any]) -> None:
        if not isinstance(experiment, Experiment):
            raise TypeError(f"expected an Experiment, got {type(experiment).__name__}")
        self._experiments[experiment.name] = experiment

    def names(self) -> list[str]:
        return sorted(self._experiments)

    def __contains__(self, name: object) -> bool:
        return name in self._experiments

    def get(self, name: str) -> Experiment[Any]:
        try:
            return self._experiments[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.names(), n=1)
            guess = f"; did you mean `{close[0]}`?" if close else ""
            raise UnknownExperimentError(
                f"experiment `{name}` is not registered{guess}",
                field="experiment",
                value=name,
                hint=f"registered experiments: {', '.join(self.names()) or 'none'}. Install a package that "
                f"registers it under the `{ENTRY_POINT_GROUP}` entry point group.",
            ) from None

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP) -> Registry:
        registry = cls()
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            experiment = ep.load()
            if experiment.name != ep.name:
                raise TypeError(f"entry point `{ep.name}` loads experiment `{experiment.name}`; the names must match")
            registry.register(experiment)
        return registry

    @classmethod
    def default(cls) -> Registry:
        with cls._lock:
            if cls._default is None:
                cls._default = cls.from_entry_points()
            return cls._default
