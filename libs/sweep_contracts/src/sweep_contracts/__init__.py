"""What the worker, the orchestrator and the CLI must agree on, and only that: the wire models
(request, manifest, shard tasks, settings, errors), point indexing and shard planning, the storage
layout, row schemas and the store protocol, and the experiment plugin API and registry. Code one
side alone uses lives on that side: the cost model in `sweep_orchestrator.cost` (the CLI depends on
the orchestrator already, so no new edge), typed axis columns in `sweep_cli.results.axes`. No boto3, no pyarrow."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sweep_contracts.batch import ConfigBatch
    from sweep_contracts.errors import SweepError
    from sweep_contracts.experiments import Experiment, Objective, Registry
    from sweep_contracts.request import SweepRequest, parse_request

__all__ = ["ConfigBatch", "Experiment", "Objective", "Registry", "SweepError", "SweepRequest", "parse_request"]

# The names above resolve on first use: importing any submodule runs this file first, and
# `sweep_contracts.errors` or `.layout` alone should not cost pydantic's import (a cold start).
_HOMES = {
    "ConfigBatch": "batch",
    "SweepError": "errors",
    "Experiment": "experiments",
    "Objective": "experiments",
    "Registry": "experiments",
    "SweepRequest": "request",
    "parse_request": "request",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'sweep_contracts' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sweep_contracts.{_HOMES[name]}"), name)
