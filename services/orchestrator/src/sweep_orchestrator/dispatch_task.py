"""The fan-out message: an orchestrator's instruction to itself to dispatch some shards of a run.

Only the orchestrator sends and reads it (the worker never sees one), so it lives here and not
in the shared contracts. Shards travel as runs of consecutive ids, so a group of 10,000 shards
of a first dispatch is one triple."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field, JsonValue, field_validator

from sweep_contracts.base import Frozen
from sweep_contracts.names import EXPERIMENT_PATTERN, RUN_ID_PATTERN
from sweep_contracts.planning import ShardPlan
from sweep_contracts.request import SweepSpec, check_config
from sweep_contracts.tasks import TaskFactory, TaskSettings
from sweep_orchestrator.dispatch import ShardRef

DISPATCH_KIND: Literal["sweep.dispatch"] = "sweep.dispatch"

ShardRun = tuple[int, int, int]
"""Shards `first..stop-1`, all at dispatch attempt `attempt`: (first, stop, attempt)."""


def to_runs(refs: Iterable[ShardRef]) -> list[ShardRun]:
    """Compress (shard_id, attempt) pairs into runs of consecutive shards with the same attempt."""
    runs: list[list[int]] = []
    for shard_id, attempt in sorted(refs):
        if runs and runs[-1][1] == shard_id and runs[-1][2] == attempt:
            runs[-1][1] += 1
        else:
            runs.append([shard_id, shard_id + 1, attempt])
    return [(a, b, c) for a, b, c in runs]


def from_runs(runs: Iterable[ShardRun]) -> list[ShardRef]:
    return [(shard_id, attempt) for first, stop, attempt in runs for shard_id in range(first, stop)]


class DispatchTask(Frozen):
    """Dispatch these shards of a run (a node of the fan-out tree). Like a shard task it carries
    the config and the run's shard plan, so no step reads either from storage."""

    kind: Literal["sweep.dispatch"] = DISPATCH_KIND
    run_id: str = Field(pattern=RUN_ID_PATTERN)
    experiment: str = Field(pattern=EXPERIMENT_PATTERN)
    config: dict[str, JsonValue]
    spec: SweepSpec
    settings: TaskSettings = Field(default_factory=TaskSettings)
    plan: ShardPlan
    shards: list[ShardRun]
    tally_series: bool = False

    @field_validator("config")
    @classmethod
    def _valid_config(cls, config: dict[str, JsonValue]) -> dict[str, JsonValue]:
        return check_config(config)

    @classmethod
    def for_shards(cls, factory: TaskFactory, refs: Iterable[ShardRef]) -> DispatchTask:
        return cls(
            run_id=factory.run_id,
            experiment=factory.experiment,
            config=dict(factory.config),
            spec=factory.spec,
            settings=factory.settings,
            plan=factory.plan,
            shards=to_runs(refs),
            tally_series=factory.tally_series,
        )

    def factory(self) -> TaskFactory:
        return TaskFactory(
            run_id=self.run_id,
            experiment=self.experiment,
            config=self.config,
            spec=self.spec,
            settings=self.settings,
            plan=self.plan,
            tally_series=self.tally_series,
        )

    def refs(self) -> list[ShardRef]:
        return from_runs(self.shards)
