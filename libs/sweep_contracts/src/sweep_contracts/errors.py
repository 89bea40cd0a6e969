"""Errors shared by every sweep package; services subclass `SweepError`.

```
SweepError                      code                    HTTP
├── RequestError                INVALID_REQUEST         400
│   ├── MissingConfigError      MISSING_CONFIG          400
│   ├── UnknownExperimentError  UNKNOWN_EXPERIMENT      400
│   └── ExperimentConfigError   INVALID_EXPERIMENT_CONFIG 400
├── LimitExceededError          LIMIT_EXCEEDED          413
├── RunConflictError            RUN_CONFLICT            409
├── RunNotFoundError            RUN_NOT_FOUND           404
├── InvalidTaskError            INVALID_TASK            400
├── SettingsError               INVALID_SETTING         400
├── StoreError                  STORE_UNAVAILABLE       503
└── ParquetFormatError          PARQUET_FORMAT          500
```

Every error names what failed (`field`), the offending `value`, the `limit` where one applies
and the `hint` that fixes it; `to_dict()` is the JSON body the API answers with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of a request, for errors that report several at once."""

    field: str
    message: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "value": self.value}


class SweepError(Exception):
    """Root of every error sweep raises on purpose."""

    code = "SWEEP_ERROR"
    http_status = 500

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        limit: Any = None,
        hint: str | None = None,
        problems: Sequence[FieldProblem] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.limit = limit
        self.hint = hint
        self.problems = tuple(problems)

    def __str__(self) -> str:
        text = self.message
        if len(self.problems) > 1:
            others = "; ".join(f"`{p.field}`: {p.message}" for p in self.problems[1:])
            text = f"{text} Also: {others}."
        return f"{text} Hint: {self.hint}" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        for name in ("field", "value", "limit", "hint"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        if self.problems:
            body["problems"] = [p.to_dict() for p in self.problems]
        return body


class RequestError(SweepError):
    """The sweep request is malformed; nothing was written or dispatched."""

    code = "INVALID_REQUEST"
    http_status = 400


class MissingConfigError(RequestError):
    """The request or shard task has no `config`, or an empty one."""

    code = "MISSING_CONFIG"


class UnknownExperimentError(RequestError):
    """The request names an experiment that is not registered."""

    code = "UNKNOWN_EXPERIMENT"


class ExperimentConfigError(RequestError):
    """A point's effective config fails the experiment's config schema."""

    code = "INVALID_EXPERIMENT_CONFIG"


class LimitExceededError(SweepError):
    """The request is over a cap from the stage settings."""

    code = "LIMIT_EXCEEDED"
    http_status = 413


class RunConflictError(SweepError):
    """The `run_id` already names a run with other content."""

    code = "RUN_CONFLICT"
    http_status = 409


class RunNotFoundError(SweepError):
    """No run has this `run_id`."""

    code = "RUN_NOT_FOUND"
    http_status = 404


class InvalidTaskError(SweepError):
    """A shard task (worker event) is malformed; the worker refuses to run it."""

    code = "INVALID_TASK"
    http_status = 400


class SettingsError(SweepError):
    """A stage setting has an unknown name or a value of the wrong type."""

    code = "INVALID_SETTING"
    http_status = 400


class StoreError(SweepError):
    """The result store (directory or bucket) could not be read or written."""

    code = "STORE_UNAVAILABLE"
    http_status = 503


class ParquetFormatError(SweepError):
    """A Parquet file is not one this package wrote, or it is damaged."""

    code = "PARQUET_FORMAT"
