"""The run manifest: the request, the plan, the effective settings with provenance, the code version.

Written once, before any shard is dispatched, with create-if-absent: it is the run's identity."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, Field, JsonValue

from sweep_contracts._json import content_hash
from sweep_contracts.base import Frozen
from sweep_contracts.names import RUN_ID_PATTERN
from sweep_contracts.planning import ShardPlan
from sweep_contracts.points import PointSpace
from sweep_contracts.request import SweepRequest
from sweep_contracts.settings import SystemSettings
from sweep_contracts.tasks import TaskFactory, TaskSettings

SCHEMA_VERSION = 1


class SeriesInfo(Frozen):
    """Series `name` holds indices `first_index..first_index+size-1` (repeats included)."""

    name: str
    first_index: int
    size: int


class RunPlan(ShardPlan):
    """The shard plan, plus how the points are laid out."""

    repeats: int = 1
    series: list[SeriesInfo] = Field(default_factory=list)

    @classmethod
    def build(cls, plan: ShardPlan, space: PointSpace) -> RunPlan:
        return cls(
            **plan.model_dump(),
            repeats=space.repeats,
            series=[SeriesInfo(name=n, first_index=f, size=s) for n, f, s in space.series_offsets()],
        )


class RunManifest(Frozen):
    """Everything needed to rerun, audit or query a run."""

    schema_version: int = SCHEMA_VERSION
    run_id: str = Field(pattern=RUN_ID_PATTERN)
    created_at: AwareDatetime
    request: SweepRequest
    request_hash: str
    plan: RunPlan
    settings: dict[str, dict[str, Any]]
    code_version: dict[str, str] = Field(default_factory=dict)
    config: dict[str, JsonValue] | None = Field(
        default=None,
        description="The request's config merged over the stage's experiment defaults at submit: what every "
        "shard task carries. Absent when no default applied (then it is the request's config).",
    )
    config_provenance: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per config key: its value and `source` (`request`, `ssm` with `version`, `file`, `default`).",
    )
    tally_series: bool = Field(
        default=False,
        exclude_if=lambda tally: not tally,  # written only when set: every other manifest is what it was
        description="A search's round: its shard tasks ask the worker for a per-series tally in each outcome "
        "(`ShardTask.tally_series`), which the search's step reads.",
    )

    def effective_config(self) -> dict[str, JsonValue]:
        """The config every point starts from: the request's over the stage defaults."""
        return self.request.config if self.config is None else self.config

    @staticmethod
    def hash_request(request: SweepRequest) -> str:
        return content_hash(request.content())

    def settings_values(self) -> dict[str, int]:
        return {name: int(record["value"]) for name, record in self.settings.items()}

    def effective_settings(self) -> SystemSettings:
        return SystemSettings.resolve(self.settings_values(), source="default")

    def task_settings(self) -> TaskSettings:
        """The run's settings as its tasks carry them (every setting's value, as planned)."""
        return TaskSettings.model_validate(self.settings_values())

    def task_factory(self) -> TaskFactory:
        return TaskFactory(
            run_id=self.run_id,
            experiment=self.request.experiment,
            config=self.effective_config(),
            spec=self.request.spec(),
            settings=self.task_settings(),
            plan=self.plan,
            tally_series=self.tally_series,
        )

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> RunManifest:
        return cls.model_validate_json(data)
