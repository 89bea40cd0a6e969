"""The plugin API: an experiment is a name, a pydantic config model and a function
`(config) -> metrics` (`Experiment`), with what a point may return (`Evaluation`,
`EvaluationError`) and how its points are ranked (`Objective`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from sweep_contracts.batch import ConfigBatch
from sweep_contracts.experiments.answers import BatchAnswers, batch_answers, metrics_of
from sweep_contracts.experiments.checks import check_request
from sweep_contracts.points import PointSpace
from sweep_contracts.request import SEED, SweepRequest

C = TypeVar("C", bound=BaseModel)
Metrics = Mapping[str, float | int | bool]


@dataclass(frozen=True)
class Evaluation:
    """What a point returns when it has more to say than metrics: the response text (`output`
    column) and the call's facts (`call_json` column: options as sent, finish reason, ids)."""

    metrics: Metrics
    output: str | None = None
    call: Mapping[str, Any] | None = None


class EvaluationError(Exception):
    """A point that failed but still measured something (e.g. `attempts`): an `error` row that
    keeps these metrics."""

    def __init__(self, message: str, metrics: Metrics | None = None) -> None:
        super().__init__(message)
        self.metrics: Metrics = dict(metrics or {})


@dataclass(frozen=True)
class Objective:
    """The metric that ranks points, and whether more or less is better."""

    metric: str
    goal: Literal["max", "min"] = "max"


NUISANCE_AXES = ("task_index", SEED)
"""Axes that are samples of every experiment: the items of a task set and the random seed."""


@dataclass(frozen=True)
class Experiment(Generic[C]):
    """A registered experiment.

    `run(config)` gets the point's effective config validated into `config_model` and returns
    numeric metrics. With `secrets`, it is called as `run(config, secrets)`, where `secrets`
    maps each declared name to its value from the stage's secret store (never from the event); a
    secret whose config has a false `<name>_required` field may be absent (not set).
    """

    name: str
    config_model: type[C]
    run: Callable[..., Metrics | Evaluation] | str
    """The function, or `"package.module:function"`: imported only when a point runs, so the
    orchestrator validates configs without the experiment's heavy runtime dependencies."""
    description: str = ""
    objective: Objective | None = None
    metrics: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    nuisance_axes: tuple[str, ...] = ()
    """Axes whose values are samples, not settings to choose (beyond `task_index` and `seed`, which
    always are, see `NUISANCE_AXES`): "best" averages the objective over them, and the per-option
    table pairs option values over them."""
    io_bound: bool = False
    """Its points mostly wait on the network: the worker runs up to the config's `concurrency`
    of them at once inside a shard."""
    run_batch: Callable[..., Sequence[Metrics] | Mapping[str, Sequence[float]]] | None = None
    """Optional: `run_batch(configs)` (with secrets, `run_batch(configs, secrets)`) evaluates many
    points at once (e.g. vectorised) and returns their metrics in order: a mapping per config, or
    one sequence per metric (`{"value": [...]}`, a list or numpy array as long as the batch). The
    worker calls it with chunks of validated configs (a `ConfigBatch`: `configs.column("x")` gives
    a field of all of them at once) and writes the rows `run` would give; a call that raises has
    its points run one by one with `run`, so raise for anything `run` should report per point."""
    _takes_seed: bool = field(init=False, repr=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_takes_seed", SEED in self.config_model.model_fields)

    @property
    def takes_seed(self) -> bool:
        """Whether the config model has a `seed` field: the effective config's seed is validated too."""
        return self._takes_seed

    def resolved_run(self) -> Callable[..., Metrics | Evaluation]:
        """The run function, importing its module the first time when `run` names it."""
        if not isinstance(self.run, str):
            return self.run
        module, _, attribute = self.run.partition(":")
        function = getattr(importlib.import_module(module), attribute)
        if not callable(function):
            raise TypeError(f"`{self.run}` of experiment `{self.name}` is not a function")
        object.__setattr__(self, "run", function)
        return function  # type: ignore[no-any-return]

    def config_fields(self) -> list[str]:
        return list(self.config_model.model_fields)

    def parse_config(self, effective: Mapping[str, Any]) -> C:
        """Validate one point's effective config; pydantic's error propagates."""
        data = effective if self._takes_seed else {k: v for k, v in effective.items() if k != SEED}
        return self.config_model.model_validate(data)

    def evaluate(self, config: C, secrets: Mapping[str, str] | None = None) -> dict[str, float]:
        """Run the experiment on a validated config; metrics come back as floats."""
        return self.evaluate_point(config, secrets)[0]

    def evaluate_point(
        self, config: C, secrets: Mapping[str, str] | None = None
    ) -> tuple[dict[str, float], str | None, Mapping[str, Any] | None]:
        """Run the experiment on a validated config: float metrics, output text, call facts."""
        run = self.resolved_run()
        raw = run(config, secrets or {}) if self.secrets else run(config)
        output: str | None = None
        call: Mapping[str, Any] | None = None
        if isinstance(raw, Evaluation):
            output, call = raw.output, raw.call
            raw = raw.metrics
        return metrics_of(self.name, raw), output, call

    def evaluate_batch(
        self, configs: Sequence[C], secrets: Mapping[str, str] | None = None
    ) -> list[dict[str, float] | Exception]:
        """`run_batch` on validated configs: per config its float metrics, or the error `run`'s
        metrics would have raised (not a mapping, not finite numbers). Raises what `run_batch` raises."""
        return self.answer_batch(configs, secrets).rows()

    def answer_batch(self, configs: Sequence[C], secrets: Mapping[str, str] | None = None) -> BatchAnswers:
        """`evaluate_batch`, keeping an answer given as metric columns in columns when every value
        is a finite float (a batch's rows are then built without a dict per point). The configs
        reach `run_batch` as a `ConfigBatch`."""
        if self.run_batch is None:
            raise TypeError(f"experiment `{self.name}` has no run_batch")
        batch = ConfigBatch.of(configs)
        raw = self.run_batch(batch, secrets or {}) if self.secrets else self.run_batch(batch)
        return batch_answers(self.name, raw, len(batch))

    def check_request(self, request: SweepRequest, space: PointSpace | None = None) -> None:
        """Validate the request's config against this experiment's schema at submit time, so a
        bad config is one clear error, not N failed shards (`sweep_contracts.experiments.checks`)."""
        check_request(self, request, space)
