"""Contracts shared by every sweep package: request models, point indexing, shard planning,
storage layout, row schemas, settings and errors. No boto3, no pyarrow."""

from __future__ import annotations

from sweep_contracts.errors import SweepError
from sweep_contracts.experiments import Experiment, Objective, Registry
from sweep_contracts.request import SweepRequest, parse_request

__all__ = ["Experiment", "Objective", "Registry", "SweepError", "SweepRequest", "parse_request"]
