"""The shard task: the worker's event. It carries the config and the sweep spec, never a point list."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from sweep_contracts._json import canonical_json
from sweep_contracts.base import Frozen
from sweep_contracts.errors import InvalidTaskError, MissingConfigError, SettingsError
from sweep_contracts.names import EXPERIMENT_PATTERN, RUN_ID_PATTERN
from sweep_contracts.planning import ShardPlan
from sweep_contracts.points import PointSpace
from sweep_contracts.request import MISSING_CONFIG_HINT, SweepSpec, check_config
from sweep_contracts.settings import SystemSettings
from sweep_contracts.validation import problems_from

TASK_KIND: Literal["sweep.shard"] = "sweep.shard"


class TaskSettings(SystemSettings):
    """The run's stage settings as its shard and dispatch tasks carry them: resolved once, from the
    manifest (`RunManifest.task_settings`), then read as typed values — by the worker (its time
    budget), a dispatcher (its invoke policy) and the local engine (a shard's time limit) — never
    resolved again. A setting absent from a task has its default.

    On the wire it is the JSON object of setting values tasks have always carried (the values set,
    by name), so a task in flight from before this type parses, and a worker from before reads a
    new one. As `SystemSettings.resolve` did for those dicts, a name this version does not know or
    a value out of its range is left out: its default applies."""

    @model_validator(mode="before")
    @classmethod
    def _known_values(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        known: dict[str, int] = {}
        for name, value in data.items():
            try:
                known[name] = SystemSettings.check_value(name, value)
            except SettingsError:
                continue
        return known

    @model_serializer(mode="wrap")
    def _values_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {name: value for name, value in dumped.items() if name in self.model_fields_set}


class ShardTask(Frozen):
    """Run points `start..stop-1` of run `run_id` as shard `shard_id` of `shard_count`."""

    kind: Literal["sweep.shard"] = TASK_KIND
    run_id: str = Field(pattern=RUN_ID_PATTERN)
    shard_id: int = Field(ge=0)
    shard_count: int = Field(ge=1)
    start: int = Field(ge=0)
    stop: int = Field(ge=1)
    attempt: int = Field(default=1, ge=1)
    experiment: str = Field(pattern=EXPERIMENT_PATTERN)
    config: dict[str, JsonValue]
    spec: SweepSpec
    settings: TaskSettings = Field(default_factory=TaskSettings)
    tally_series: bool = Field(
        default=False,
        description="Sum the shard's points per series into its outcome (`Outcome.series`): set for a search's "
        "round runs only, whose step reads them; a task without it (every other run, and tasks from before "
        "the flag) writes no tally.",
    )

    @field_validator("config")
    @classmethod
    def _valid_config(cls, config: dict[str, JsonValue]) -> dict[str, JsonValue]:
        return check_config(config)

    @model_validator(mode="after")
    def _valid_range(self) -> ShardTask:
        if self.shard_id >= self.shard_count:
            raise ValueError(f"shard_id {self.shard_id} is not below shard_count {self.shard_count}")
        if self.stop <= self.start:
            raise ValueError(f"the index range {self.start}..{self.stop} is empty")
        return self

    @property
    def points_total(self) -> int:
        return self.stop - self.start

    def point_space(self) -> PointSpace:
        space = PointSpace(self.spec, self.config)
        if self.stop > space.size:
            raise InvalidTaskError(
                f"shard {self.shard_id} of run `{self.run_id}` asks for points up to {self.stop - 1}, "
                f"but the sweep has {space.size}.",
                field="stop",
                value=self.stop,
                limit=space.size,
                hint="the task does not match its sweep spec; resubmit the run.",
            )
        return space


@dataclass(frozen=True)
class TaskIdentity:
    """Enough of a (possibly malformed) shard task to record its outcome under the right key."""

    run_id: str
    shard_id: int
    points_total: int
    attempt: int


def identify_task(event: Any) -> TaskIdentity | None:
    """The run, shard, size and attempt of a task event, or None if it names no run and shard."""
    if not isinstance(event, Mapping):
        return None
    run_id, shard_id = event.get("run_id"), event.get("shard_id")
    if not isinstance(run_id, str) or not re.fullmatch(RUN_ID_PATTERN, run_id):
        return None
    if not isinstance(shard_id, int) or isinstance(shard_id, bool) or shard_id < 0:
        return None
    start, stop, attempt = event.get("start"), event.get("stop"), event.get("attempt", 1)
    total = stop - start if isinstance(start, int) and isinstance(stop, int) and stop > start else 0
    return TaskIdentity(run_id, shard_id, total, attempt if isinstance(attempt, int) and attempt >= 1 else 1)


def parse_task(event: Any) -> ShardTask:
    """Validate a worker event. A task without a non-empty `config` is refused outright:
    the worker never looks for experiment config anywhere but its event."""
    if not isinstance(event, Mapping):
        raise InvalidTaskError(f"a shard task is a JSON object; got {type(event).__name__}.", field="event")
    if not event.get("config"):
        raise MissingConfigError(
            f"shard task {event.get('run_id')!r}/{event.get('shard_id')!r} carries no config; the worker refuses it.",
            field="config",
            value=event.get("config"),
            hint=MISSING_CONFIG_HINT,
        )
    try:
        return ShardTask.model_validate(event)
    except ValidationError as exc:
        problems = problems_from(exc)
        raise InvalidTaskError(
            f"the shard task is malformed: `{problems[0].field}`: {problems[0].message}.",
            field=problems[0].field,
            value=problems[0].value,
            hint="shard tasks are built by the orchestrator; resubmit the run rather than editing tasks.",
            problems=problems,
        ) from exc


class TaskFactory:
    """Builds shard task events for one run from its shard plan (the one place a shard's index
    range is computed: `ShardPlan.shard`). The part every task shares (config, spec, settings) is
    serialised once, so a 10,000-shard dispatch does not re-encode the spec 10,000 times."""

    def __init__(
        self,
        *,
        run_id: str,
        experiment: str,
        config: Mapping[str, JsonValue],
        spec: SweepSpec,
        settings: TaskSettings,
        plan: ShardPlan,
        tally_series: bool = False,
    ) -> None:
        self.run_id = run_id
        self.experiment = experiment
        self.config = config
        self.spec = spec
        self.settings = settings
        self.plan = plan
        self.tally_series = tally_series
        shared: dict[str, Any] = {
            "kind": TASK_KIND,
            "run_id": run_id,
            "shard_count": plan.shard_count,
            "experiment": experiment,
            "config": config,
            "spec": spec.model_dump(mode="json", exclude_defaults=True),
            "settings": settings.model_dump(mode="json"),
        }
        if tally_series:  # only then: every other run's task is what it was before the flag
            shared["tally_series"] = True
        self._shared = canonical_json(shared)[1:]  # without its opening brace

    def event_json(self, shard_id: int, attempt: int = 1) -> str:
        """The task for `shard_id` as JSON text, ready to send."""
        shard = self.plan.shard(shard_id)
        return f'{{"shard_id":{shard_id},"start":{shard.start},"stop":{shard.stop},"attempt":{attempt},{self._shared}'

    def event(self, shard_id: int, attempt: int = 1) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.event_json(shard_id, attempt))
        return loaded

    def events(self, attempt: int = 1) -> Iterator[str]:
        """The task of every shard of the run, in order."""
        for shard in self.plan.shards():
            yield self.event_json(shard.shard_id, attempt)
