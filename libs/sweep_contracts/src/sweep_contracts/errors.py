"""Errors shared by every sweep package; services subclass `SweepError`, never `Exception`.

The whole tree, across packages (a test walks `SweepError.__subclasses__()` and checks every class
is drawn here, with its own code from `ApiCode`):

```
SweepError                          SWEEP_ERROR                500
├── RequestError                    INVALID_REQUEST            400
│   ├── MissingConfigError          MISSING_CONFIG             400
│   ├── UnknownExperimentError      UNKNOWN_EXPERIMENT         400
│   ├── ExperimentConfigError       INVALID_EXPERIMENT_CONFIG  400
│   └── SweepFileError              INVALID_FILE               400  sweep_cli.errors
├── LimitExceededError              LIMIT_EXCEEDED             413
├── RunConflictError                RUN_CONFLICT               409
├── RunNotFoundError                RUN_NOT_FOUND              404
├── InvalidTaskError                INVALID_TASK               400
├── SettingsError                   INVALID_SETTING            400
├── SettingConflictError            SETTING_CONFLICT           409
├── StoreError                      STORE_UNAVAILABLE          503
├── ParquetFormatError              PARQUET_FORMAT             500
├── SecretUnavailableError          SECRET_UNAVAILABLE         503
├── ConfigurationError              MISCONFIGURED              500
├── InfraError                      INFRA_ERROR                500  sweep_infra.errors
│   ├── StackConfigError            INVALID_STACK_CONFIG       500  sweep_infra.errors
│   ├── PackagingError              PACKAGING_FAILED           500  sweep_infra.errors
│   └── PreflightError              PREFLIGHT_FAILED           500  sweep_infra.errors
├── UsageError                      USAGE                      400  sweep_cli.errors
│   └── CredentialsError            NO_CREDENTIALS             401  sweep_cli.errors
├── ServiceError                    SERVICE_FAILED             502  sweep_cli.errors
│   ├── StageUnreachableError       STAGE_UNREACHABLE          503  sweep_cli.errors
│   └── QueryError                  QUERY_FAILED               502  sweep_cli.errors
└── RemoteError                     REMOTE_ERROR               the API's status  sweep_cli.errors
```

`sweep_cli.errors` draws its part again with the exit code each error gives.

Every error names what failed (`field`), the offending `value`, the `limit` where one applies
and the `hint` that fixes it; `to_dict()` is the JSON body the API answers with. The API's own
answers that are not raised errors (`NOT_FOUND` for an unknown route, `INTERNAL_ERROR` for a bug)
take their codes from `ApiCode` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of a request, for errors that report several at once."""

    field: str
    message: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "value": self.value}


class ApiCode(StrEnum):
    """The stable `code` of every error sweep reports: each error class's, and the API's own."""

    SWEEP_ERROR = "SWEEP_ERROR"
    INVALID_REQUEST = "INVALID_REQUEST"
    MISSING_CONFIG = "MISSING_CONFIG"
    UNKNOWN_EXPERIMENT = "UNKNOWN_EXPERIMENT"
    INVALID_EXPERIMENT_CONFIG = "INVALID_EXPERIMENT_CONFIG"
    INVALID_FILE = "INVALID_FILE"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    RUN_CONFLICT = "RUN_CONFLICT"
    RUN_NOT_FOUND = "RUN_NOT_FOUND"
    INVALID_TASK = "INVALID_TASK"
    INVALID_SETTING = "INVALID_SETTING"
    SETTING_CONFLICT = "SETTING_CONFLICT"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    PARQUET_FORMAT = "PARQUET_FORMAT"
    SECRET_UNAVAILABLE = "SECRET_UNAVAILABLE"  # noqa: S105 - an error code, not a secret
    MISCONFIGURED = "MISCONFIGURED"
    INFRA_ERROR = "INFRA_ERROR"
    INVALID_STACK_CONFIG = "INVALID_STACK_CONFIG"
    PACKAGING_FAILED = "PACKAGING_FAILED"
    PREFLIGHT_FAILED = "PREFLIGHT_FAILED"
    USAGE = "USAGE"
    NO_CREDENTIALS = "NO_CREDENTIALS"
    SERVICE_FAILED = "SERVICE_FAILED"
    STAGE_UNREACHABLE = "STAGE_UNREACHABLE"
    QUERY_FAILED = "QUERY_FAILED"
    REMOTE_ERROR = "REMOTE_ERROR"
    FORBIDDEN = "FORBIDDEN"
    """The stage's API refused a request (the caller's identity may not invoke it)."""
    HTTP_ERROR = "HTTP_ERROR"
    """The stage's API answered with a status and body that are not a sweep error."""
    NOT_FOUND = "NOT_FOUND"
    """The API has no such route."""
    INTERNAL_ERROR = "INTERNAL_ERROR"
    """A bug in sweep: the API answers 500 and logs the traceback."""


class SweepError(Exception):
    """Root of every error sweep raises on purpose."""

    code: str = ApiCode.SWEEP_ERROR
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

    code = ApiCode.INVALID_REQUEST
    http_status = 400


class MissingConfigError(RequestError):
    """The request or shard task has no `config`, or an empty one."""

    code = ApiCode.MISSING_CONFIG


class UnknownExperimentError(RequestError):
    """The request names an experiment that is not registered."""

    code = ApiCode.UNKNOWN_EXPERIMENT


class ExperimentConfigError(RequestError):
    """A point's effective config fails the experiment's config schema."""

    code = ApiCode.INVALID_EXPERIMENT_CONFIG


class LimitExceededError(SweepError):
    """The request is over a cap from the stage settings."""

    code = ApiCode.LIMIT_EXCEEDED
    http_status = 413


class RunConflictError(SweepError):
    """The `run_id` already names a run with other content."""

    code = ApiCode.RUN_CONFLICT
    http_status = 409


class RunNotFoundError(SweepError):
    """No run has this `run_id`."""

    code = ApiCode.RUN_NOT_FOUND
    http_status = 404


class InvalidTaskError(SweepError):
    """A shard task (worker event) is malformed; the worker refuses to run it."""

    code = ApiCode.INVALID_TASK
    http_status = 400


class SettingsError(SweepError):
    """A stage setting has an unknown name or a value of the wrong type."""

    code = ApiCode.INVALID_SETTING
    http_status = 400


class SettingConflictError(SweepError):
    """A conditional settings write found the parameter in another state than it expected."""

    code = ApiCode.SETTING_CONFLICT
    http_status = 409

    def __init__(self, message: str, *, current_value: Any, current_version: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.current_value = current_value
        self.current_version = current_version

    def to_dict(self) -> dict[str, Any]:
        """The error, with what the parameter holds now (`version` 0: it does not exist)."""
        return {**super().to_dict(), "current": {"value": self.current_value, "version": self.current_version}}


class StoreError(SweepError):
    """The result store (directory or bucket) could not be read or written."""

    code = ApiCode.STORE_UNAVAILABLE
    http_status = 503


class ParquetFormatError(SweepError):
    """A Parquet file is not one this package wrote, or it is damaged."""

    code = ApiCode.PARQUET_FORMAT


class SecretUnavailableError(SweepError):
    """A secret an experiment declares cannot be read (missing, unreadable, or still a placeholder)."""

    code = ApiCode.SECRET_UNAVAILABLE
    not_set: bool = False
    """True when nobody gave the secret a value (as opposed to a store that could not be read):
    an optional secret is then simply absent."""
    http_status = 503


class ConfigurationError(SweepError):
    """A function's environment lacks a variable it needs (the deployment is incomplete)."""

    code = ApiCode.MISCONFIGURED


class PluginWarning(UserWarning):
    """An installed experiment plugin could not be loaded; only sweeps asking for it fail.

    A warning, not a `SweepError`; here (not in `experiments`) so that the CLI can route it to one
    `warning:` line without importing the experiment machinery."""
