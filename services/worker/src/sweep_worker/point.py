"""Evaluating one point, its error captured: what every path runs for a point (in this process,
on a thread, in a child process), and `run_point` for a point on its own (an I/O-bound
experiment's thread), with its own output capture and timing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from traceback import format_exc
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from sweep_contracts import redaction
from sweep_contracts.errors import StoreError
from sweep_contracts.experiments import EvaluationError, Experiment
from sweep_contracts.outcomes import truncate
from sweep_contracts.validation import problems_from
from sweep_worker.budget import TimeBudget
from sweep_worker.capture import capture
from sweep_worker.row import Evaluated, PointRow, RowBuilder

if TYPE_CHECKING:
    from sweep_worker.texts import PointTexts


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with the value of every secret replaced by its name: an experiment that raises with
    its API key in the message must not get the key stored in a row, an outcome or a log line.
    Parts of a key that a cut made before this left at an edge go too (`sweep_contracts.redaction`)."""
    return redaction.redact(text, secrets)


def point_error(exc: BaseException, experiment: Experiment[Any], secrets: Mapping[str, str]) -> tuple[str, str]:
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"`{p.field}`: {p.message}" for p in problems_from(exc, experiment.config_fields()))
        return "ConfigError", truncate(f"the point's effective config is invalid: {problems}")
    return type(exc).__name__, truncate(redact(str(exc), secrets) or type(exc).__name__)


def evaluate(
    experiment: Experiment[Any],
    config: BaseModel | None,
    effective: Mapping[str, Any],
    validate: Callable[[Mapping[str, Any]], BaseModel],
    secrets: Mapping[str, str],
) -> Evaluated:
    """Run the experiment on `config`, or on `effective` validated by `validate` when `config` is
    None; an exception either raises becomes the point's error. `PointInterrupted` and
    `StoreError` pass through."""
    try:
        if config is None:
            config = validate(effective)
        metrics, output, call = experiment.evaluate_point(config, secrets)
    except EvaluationError as exc:
        # a failed point that still measured something (an LLM call's `attempts`) keeps it
        measured = {k: float(v) for k, v in exc.metrics.items()}
        return measured, point_error(exc, experiment, secrets), None, None, format_exc()
    except StoreError:
        raise  # what every point reads is unavailable (transient): the shard fails, for retry
    except Exception as exc:
        return {}, point_error(exc, experiment, secrets), None, None, format_exc()
    return metrics, None, output, call, None


def run_point(
    experiment: Experiment[Any], index: int, texts: PointTexts, budget: TimeBudget, build: RowBuilder
) -> PointRow:
    """Point `index` evaluated on its own, what it prints captured for it alone (on a thread, beside
    other points); its time goes into `budget`'s average."""
    started = budget.timer()
    with capture() as captured:
        result = evaluate(experiment, None, texts[5], experiment.config_model.model_validate, build.secrets)
    duration_ms = (budget.timer() - started) * 1000
    budget.record(duration_ms)
    return build.row(index, texts, result, duration_ms, captured.text)
