"""The orchestrator's dependencies on Lambda, built once per cold start from the environment.
Tests and benchmarks install their own with `use(...)` (clients must be created inside moto)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from sweep_aws.clients import lambda_client
from sweep_aws.environ import required, settings_ttl
from sweep_aws.invoke import SignedHttpInvoker
from sweep_aws.ssm import SsmSettings
from sweep_aws.stores import open_store
from sweep_contracts import environment
from sweep_contracts.settings import normalise_prefix, parameter_prefix
from sweep_orchestrator.lambda_dispatch import LambdaDispatcher
from sweep_orchestrator.runs import ManifestCache
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.steps import LambdaSearchSteps, SearchSteps
from sweep_orchestrator.status import OutcomeReader

MAX_CONNECTIONS = 256  # the highest dispatch_concurrency a stage may set


@dataclass(frozen=True)
class OrchestratorDeps:
    runtime: Runtime
    dispatcher: LambdaDispatcher
    stage: str
    parameter_prefix: str
    settings_ttl_s: int
    search_steps: SearchSteps | None = None
    """Steps a search (the search function's async invoke); None on a stage deployed without one."""

    @functools.cached_property
    def manifests(self) -> ManifestCache:
        """Manifests this container has read: a warm Lambda reads a polled run's manifest once."""
        return ManifestCache(self.runtime.store)

    @functools.cached_property
    def outcomes(self) -> OutcomeReader:
        """Reads outcomes from this runtime's store, remembering them between polls in a warm Lambda."""
        return OutcomeReader(self.runtime.store)


@functools.cache
def from_environment() -> OrchestratorDeps:
    stage = os.environ.get(environment.STAGE, "dev")
    prefix = normalise_prefix(os.environ.get(environment.PARAMETER_PREFIX) or parameter_prefix(stage))
    ttl = settings_ttl()
    dispatcher = LambdaDispatcher(
        SignedHttpInvoker.like(lambda_client(MAX_CONNECTIONS), MAX_CONNECTIONS),
        required(environment.WORKER_FUNCTION, "the orchestrator cannot dispatch shards"),
        os.environ.get(environment.ORCHESTRATOR_FUNCTION),
    )
    runtime = Runtime(
        store=open_store(required(environment.STORE, "the orchestrator does not know where runs live")),
        dispatcher=dispatcher,
        settings=SsmSettings(prefix, ttl_s=ttl),
    )
    search_function = os.environ.get(environment.SEARCH_FUNCTION)
    steps = LambdaSearchSteps(dispatcher, search_function) if search_function else None
    return OrchestratorDeps(runtime, dispatcher, stage, prefix, ttl, steps)


class _Installed:
    deps: OrchestratorDeps | None = None


def use(deps: OrchestratorDeps | None) -> None:
    """Install `deps` (None: go back to the environment's)."""
    _Installed.deps = deps
    from_environment.cache_clear()


def current() -> OrchestratorDeps:
    return _Installed.deps or from_environment()
