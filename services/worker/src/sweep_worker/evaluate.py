"""One point's evaluation, shared by the sequential and the concurrent shard runners: the
experiment's metrics, output and call facts, or the error that becomes an `error` row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sweep_contracts._json import canonical_json
from sweep_contracts.experiments import EvaluationError, Experiment
from sweep_contracts.outcomes import truncate
from sweep_contracts.request import problems_from


@dataclass
class PointOutcome:
    """What one point produced; `error` is (type, message) when it raised."""

    metrics: Mapping[str, float] = field(default_factory=dict)
    error: tuple[str, str] | None = None
    output: str | None = None
    call_json: str | None = None


def point_error(exc: BaseException, experiment: Experiment[Any]) -> tuple[str, str]:
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"`{p.field}`: {p.message}" for p in problems_from(exc, experiment.config_fields()))
        return "ConfigError", truncate(f"the point's effective config is invalid: {problems}")
    return type(exc).__name__, truncate(str(exc) or type(exc).__name__)


def evaluate(experiment: Experiment[Any], effective: Mapping[str, Any], secrets: Mapping[str, str]) -> PointOutcome:
    """Run one point; an exception is captured, never raised (except BaseExceptions such as the
    time budget's interrupt)."""
    try:
        metrics, output, call = experiment.evaluate_point(experiment.parse_config(effective), secrets)
    except EvaluationError as exc:
        kept = {k: float(v) for k, v in exc.metrics.items()}
        return PointOutcome(metrics=kept, error=point_error(exc, experiment))
    except Exception as exc:
        return PointOutcome(error=point_error(exc, experiment))
    return PointOutcome(metrics, None, output, canonical_json(call) if call is not None else None)
