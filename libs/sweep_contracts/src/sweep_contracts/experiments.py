"""The experiment registry: an experiment is a name, a pydantic config model and a function
`(config) -> metrics`. Experiments register through the entry point group `sweep.experiments`:

```toml
[project.entry-points."sweep.experiments"]
my-experiment = "my_package.module:EXPERIMENT"
```
"""

from __future__ import annotations

import difflib
import importlib
import math
import numbers
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from itertools import chain
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from sweep_contracts import packages
from sweep_contracts.batch import ConfigBatch
from sweep_contracts.errors import ExperimentConfigError, FieldProblem, PluginWarning, UnknownExperimentError
from sweep_contracts.points import PointSpace
from sweep_contracts.request import SEED, SweepRequest
from sweep_contracts.schema import RESERVED_NAMES, reserved_column
from sweep_contracts.validation import field_path, problems_from

ENTRY_POINT_GROUP = "sweep.experiments"
BUILTIN_DISTRIBUTION = packages.EXPERIMENTS
"""The distribution of sweep's own experiments: no plugin may take one of their names."""


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
        return self._metrics(raw), output, call

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
        if isinstance(raw, Mapping):
            columns = self._columns(raw, len(batch))
            if _finite_float_columns(columns):
                return BatchAnswers(len(batch), columns=columns)
            answers: list[Any] = BatchAnswers(len(batch), columns=columns).rows()  # checked per answer below
        else:
            answers = list(raw)
        if len(answers) != len(batch):
            raise ValueError(f"run_batch of `{self.name}` returned {len(answers)} results for {len(batch)} configs")
        if _all_finite_floats(answers):
            return BatchAnswers(len(batch), rows=list(map(dict, answers)))
        results: list[dict[str, float] | Exception] = []
        for answer in answers:
            try:
                results.append(self._metrics(answer))
            except (TypeError, ValueError) as exc:
                results.append(exc)
        return BatchAnswers(len(batch), rows=results)

    def _columns(self, raw: Mapping[Any, Any], count: int) -> dict[str, list[Any]]:
        """Metric columns as lists, each checked to hold one value per config."""
        columns: dict[str, list[Any]] = {}
        for name, values in raw.items():
            if not isinstance(name, str):
                raise TypeError(f"run_batch of `{self.name}` returned a column named {name!r}; names must be text")
            # numpy's tolist gives Python floats (its float64 scalars are floats too, but slower)
            listed = values.tolist() if hasattr(values, "tolist") else list(values)
            if len(listed) != count:
                raise ValueError(
                    f"run_batch of `{self.name}` returned {len(listed)} values of metric `{name}` for {count} configs"
                )
            columns[name] = listed
        return columns

    def _metrics(self, raw: object) -> dict[str, float]:
        if type(raw) is not dict and not isinstance(raw, Mapping):
            raise TypeError(
                f"experiment `{self.name}` returned {type(raw).__name__}; it must return a mapping of metrics"
            )
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

    def check_request(self, request: SweepRequest, space: PointSpace | None = None) -> None:
        """Validate the request's config against this experiment's schema at submit time, so a
        bad config is one clear error, not N failed shards. Every distinct axis value is checked
        (in O(total axis values)); cross-field rules on combinations surface as point errors."""
        space = space or PointSpace(request, request.config)
        problems: list[FieldProblem] = []
        for series, index, _axis, effective in space.probes():
            try:
                self.parse_config(effective)
            except ValidationError as exc:
                for problem in problems_from(exc, self.config_fields()):
                    source = _source_field(request, series, index, problem.field)
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


def _all_finite_floats(answers: list[Any]) -> bool:
    """Whether every answer maps text to finite floats, checked for the whole batch at once by C
    loops (a Python check per point was ~7% of a near-zero-cost shard): the types as sets, and
    finiteness by their sum, which is finite only when every value is (an overflowing sum of finite
    values only sends the batch to the check per answer, which gives the same results). Then
    `_metrics` would return each answer unchanged."""
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


class Registry:
    """Experiments by name, each imported when it is first asked for: a command imports the plugin
    of the experiment it works with, so another plugin cannot slow, stop or answer for it.

    A name that two distributions register is refused (asking for it names both), and a plugin
    that takes the name of a built-in is ignored with a warning naming both: neither is left to
    the order of `sys.path`. An import that raises or exits (`SystemExit` too) is that plugin's
    error: a warning, and an error only for a sweep that asks for it."""

    _default: Registry | None = None
    _on_demand: Registry | None = None
    _lock = threading.Lock()

    def __init__(self, experiments: Iterable[Experiment[Any]] = (), pending: Iterable[EntryPoint] = ()) -> None:
        self._experiments: dict[str, Experiment[Any]] = {}
        self._broken: dict[str, BrokenPlugin] = {}
        self._pending: dict[str, EntryPoint] = {}
        self._conflicts: dict[str, list[str]] = {}
        self._shadowing: dict[str, list[str]] = {}
        self._loading = threading.RLock()  # a plugin may ask the registry while it is imported
        by_name: dict[str, dict[str, EntryPoint]] = {}
        for ep in pending:
            by_name.setdefault(ep.name, {}).setdefault(_package_of(ep), ep)
        for name, by_package in sorted(by_name.items()):
            builtin = [ep for ep in by_package.values() if _distribution_name(ep) == BUILTIN_DISTRIBUTION]
            if builtin:
                self._pending[name] = builtin[0]
                others = sorted(p for p, ep in by_package.items() if ep is not builtin[0])
                if others:
                    self._shadowing[name] = others
            elif len(by_package) > 1:
                self._conflicts[name] = sorted(by_package)
            else:
                self._pending[name] = next(iter(by_package.values()))
        for experiment in experiments:
            self.register(experiment)

    def register(self, experiment: Experiment[Any]) -> None:
        if not isinstance(experiment, Experiment):
            raise TypeError(f"expected an Experiment, got {type(experiment).__name__}")
        self._experiments[experiment.name] = experiment

    def names(self) -> list[str]:
        """Every installed name, from the entry points' metadata: nothing is imported."""
        return sorted({*self._experiments, *self._pending, *self._conflicts})

    def __contains__(self, name: object) -> bool:
        return name in self._experiments or name in self._pending or name in self._conflicts

    def plugin(self, name: str) -> str | None:
        """The package (`name version`) of a third-party plugin not imported yet; None for a built-in
        or an experiment already loaded or refused."""
        ep = self._pending.get(name)
        return _package_of(ep) if ep is not None and _distribution_name(ep) != BUILTIN_DISTRIBUTION else None

    def find(self, name: str) -> Experiment[Any] | None:
        """The experiment, or None where it is unknown or could not be loaded (after its warning)."""
        try:
            return self.get(name)
        except UnknownExperimentError:
            return None

    def get(self, name: str) -> Experiment[Any]:
        if name in self._shadowing:
            self._warn_shadowing(name)
        if name in self._pending:
            self._load_pending([name])
        try:
            return self._experiments[name]
        except KeyError:
            pass
        packages = self._conflicts.get(name)
        if packages is not None:
            raise UnknownExperimentError(
                f"experiment `{name}` is registered by {len(packages)} packages: "
                + ", ".join(f"`{p}`" for p in packages)
                + "; sweep does not choose between them.",
                field="experiment",
                value=name,
                hint=f"uninstall all but one of them, or rename the `{ENTRY_POINT_GROUP}` entry point "
                f"`{name}` in all but one.",
            )
        broken = self._broken.get(name)
        if broken is not None:
            raise UnknownExperimentError(
                f"experiment `{name}` is installed but could not be loaded: {broken.describe()}",
                field="experiment",
                value=name,
                hint=f"fix or reinstall the package `{broken.package}` (install what it imports, correct its "
                f"`{ENTRY_POINT_GROUP}` entry point `{broken.target}`), or uninstall it.",
            )
        close = difflib.get_close_matches(name, self.names(), n=1)
        guess = f"; did you mean `{close[0]}`?" if close else ""
        raise UnknownExperimentError(
            f"experiment `{name}` is not registered{guess}",
            field="experiment",
            value=name,
            hint=f"registered experiments: {', '.join(self.names()) or 'none'}. Install a package that "
            f"registers it under the `{ENTRY_POINT_GROUP}` entry point group.",
        )

    @property
    def broken(self) -> Mapping[str, BrokenPlugin]:
        """Entry points that failed to load, by experiment name: each is an error only for a sweep
        that asks for it, so one broken package never takes down every command. Loads every one."""
        self._load_pending(list(self._pending))
        return dict(self._broken)

    @property
    def conflicts(self) -> Mapping[str, list[str]]:
        """Names that several packages register (none of them is loaded), with those packages."""
        return dict(self._conflicts)

    def _warn_shadowing(self, name: str) -> None:
        builtin = _package_of(self._pending[name]) if name in self._pending else BUILTIN_DISTRIBUTION
        for package in self._shadowing.pop(name):
            warnings.warn(
                f"ignoring experiment plugin `{name}` from package `{package}`: `{name}` is the name of "
                f"sweep's built-in experiment (package `{builtin}`); rename the plugin's "
                f"`{ENTRY_POINT_GROUP}` entry point",
                PluginWarning,
                stacklevel=4,
            )

    def _load_pending(self, names: list[str]) -> None:
        with self._loading:
            for ep in [self._pending.pop(n) for n in names if n in self._pending]:
                try:
                    with _plugin_import(ep.name) as interrupted:
                        self.register(_load(ep))
                # anything a third-party plugin raises while it is imported is that plugin's, not the
                # command's: an exception, and `sys.exit()` or a `KeyboardInterrupt` of its own
                except BaseException as exc:
                    if interrupted:  # the user's Ctrl-C while it imported: the command stops
                        raise
                    broken = BrokenPlugin(ep.name, _package_of(ep), ep.value, _error_text(exc))
                    self._broken[ep.name] = broken
                    warnings.warn(f"skipping experiment plugin {broken.describe()}", PluginWarning, stacklevel=3)

    @classmethod
    def from_entry_points(cls, group: str = ENTRY_POINT_GROUP, *, on_demand: bool = False) -> Registry:
        """Every installed experiment; one that fails to load is logged once as a warning (naming
        its package and the error) and kept aside, so only a sweep asking for it fails. `on_demand`:
        each is imported when first asked for, so a command imports only the experiments it uses."""
        registry = cls(pending=entry_points(group=group))
        if not on_demand:
            registry._load_pending(list(registry._pending))
        return registry

    @classmethod
    def default(cls) -> Registry:
        """The installed experiments, each imported when a command first names it."""
        with cls._lock:
            if cls._default is None:
                cls._default = cls.from_entry_points(on_demand=True)
            return cls._default

    @classmethod
    def on_demand(cls) -> Registry:
        """The installed experiments, each imported when a task first names it: at a fan-out, a
        worker pays for its own experiment's imports (the LLM ones bring an HTTP client), not all."""
        with cls._lock:
            if cls._on_demand is None:
                cls._on_demand = cls._default or cls.from_entry_points(on_demand=True)
            return cls._on_demand


@dataclass(frozen=True)
class BrokenPlugin:
    """An installed `sweep.experiments` entry point that failed to load."""

    name: str
    package: str
    target: str
    error: str

    def describe(self) -> str:
        return f"`{self.name}` from package `{self.package}` (`{self.target}`) failed with {self.error}"


def _load(ep: EntryPoint) -> Experiment[Any]:
    experiment = ep.load()
    if not isinstance(experiment, Experiment):
        raise TypeError(f"`{ep.value}` is a {type(experiment).__name__}, not a sweep Experiment")
    if experiment.name != ep.name:
        raise TypeError(f"entry point `{ep.name}` loads experiment `{experiment.name}`; the names must match")
    return experiment


@contextmanager
def _plugin_import(name: str) -> Iterator[list[bool]]:
    """Around a plugin's import: `sys.argv` is only `[name]` (a plugin that parses the command line
    on import answers its own usage, not sweep's), and, in the main thread, a Ctrl-C is recorded,
    so that a `KeyboardInterrupt` the user caused still stops the command while one the plugin
    raised itself is only its error."""
    argv, sys.argv = sys.argv, [name]
    interrupted: list[bool] = []
    watching = threading.current_thread() is threading.main_thread()  # only it may set a handler
    if watching:
        previous = signal.getsignal(signal.SIGINT)

        def on_interrupt(signum: int, frame: Any) -> None:
            interrupted.append(True)
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        sys.argv = argv
        if watching:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) while it was imported"
    return f"{type(exc).__name__}: {exc}"


def _distribution_name(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else None


def _package_of(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else ep.value.split(":")[0].split(".")[0]
