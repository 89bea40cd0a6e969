"""The adapters the orchestrator core works through: a store, a dispatcher, a settings source.

They differ locally (a directory, a process pool, defaults or a file) and on Lambda (a bucket,
async invokes, SSM); submit, retry, status and the fan-out are written once against this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sweep_contracts.experiments import Registry
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import ObjectStore
from sweep_contracts.version import code_version
from sweep_orchestrator.dispatch import Dispatcher


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    """The adapters the orchestrator works through: they differ locally and on Lambda."""

    store: ObjectStore
    dispatcher: Dispatcher
    settings: Callable[[], SystemSettings]
    registry: Registry = field(default_factory=Registry.default)
    clock: Callable[[], datetime] = utcnow
    code_version: Callable[[], dict[str, str]] = code_version
    on_lambda: bool = True
    """Whether shards run on Lambda: then submit estimates the run and applies the stage's cost cap
    and event-age check (a local pool has neither a bill nor an invoke queue)."""
