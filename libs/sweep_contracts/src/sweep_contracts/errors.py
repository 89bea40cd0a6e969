"""Errors shared by every sweep package; services subclass `SweepError`, never `Exception`.

One tree under `SweepError`; each package draws and owns its part. This module draws the classes
defined here, each with its own code from `ApiCode`; `sweep_cli.errors` (`CliCode`) and
`sweep_infra.errors` (`InfraCode`) draw the subtrees they add, with their own codes. Each package
registers its codes (`register_codes`), which refuses a code another package took; a test walks
`SweepError.__subclasses__()` and checks every class is drawn by the package that defines it.

```
SweepError                          SWEEP_ERROR                500
├── RequestError                    INVALID_REQUEST            400
│   ├── MissingConfigError          MISSING_CONFIG             400
│   ├── UnknownExperimentError      UNKNOWN_EXPERIMENT         400
│   └── ExperimentConfigError       INVALID_EXPERIMENT_CONFIG  400
├── LimitExceededError              LIMIT_EXCEEDED             413
├── RunConflictError                RUN_CONFLICT               409
├── RunNotFoundError                RUN_NOT_FOUND              404
├── InvalidTaskError                INVALID_TASK               400
├── SettingsError                   INVALID_SETTING            400
├── SettingConflictError            SETTING_CONFLICT           409
├── StoreError                      STORE_UNAVAILABLE          503
├── ParquetFormatError              PARQUET_FORMAT             500
├── SecretUnavailableError          SECRET_UNAVAILABLE         503
└── ConfigurationError              MISCONFIGURED              500
```

Every error names what failed (`field`), the offending `value`, the `limit` where one applies
and the `hint` that fixes it; `to_dict()` is the JSON body the API answers with. The API's own
answers that are not raised errors (`NOT_FOUND` for an unknown route, `INTERNAL_ERROR` for a bug)
take their codes from `ApiCode` too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field of a request, for errors that report several at once."""

    field: str
    message: str
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "value": self.value}


_OWNERS: dict[str, str] = {}
"""Every registered code, with the enum that owns it."""

E = TypeVar("E", bound=type[StrEnum])


def register_codes(codes: E) -> E:
    """Register a package's own error codes (a class decorator on its `StrEnum`). A code is stable
    and names one error across every package: one another package registered already is refused."""
    owner = f"{codes.__module__}.{codes.__qualname__}"
    for code in codes:
        taken = _OWNERS.setdefault(code.value, owner)
        if taken != owner:
            raise ValueError(f"error code `{code.value}` of {owner} is registered by {taken} already")
    return codes


def registered_codes() -> Mapping[str, str]:
    """Every registered code, with the enum (`module.Name`) that owns it."""
    return dict(_OWNERS)


@register_codes
class ApiCode(StrEnum):
    """The stable `code` of every error this package defines, and of the API's own answers."""

    SWEEP_ERROR = "SWEEP_ERROR"
    INVALID_REQUEST = "INVALID_REQUEST"
    MISSING_CONFIG = "MISSING_CONFIG"
    UNKNOWN_EXPERIMENT = "UNKNOWN_EXPERIMENT"
    INVALID_EXPERIMENT_CONFIG = "INVALID_EXPERIMENT_CONFIG"
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
    NOT_FOUND = "NOT_FOUND"
    """The API has no such route."""
    INTERNAL_ERROR = "INTERNAL_ERROR"
    """A bug in sweep: the API answers 500 and logs the traceback."""


class SweepError(Exception):
    """Root of every error sweep raises on purpose."""

    code: str = ApiCode.SWEEP_ERROR
    http_status = 500
    hint_label = "Hint:"
    """What the text shows before the hint (`str(error)`): a subclass whose hints are commands may say
    so, and one whose hints are whole sentences shows none."""

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
        if not self.hint:
            return text
        return f"{text} {self.hint_label} {self.hint}" if self.hint_label else f"{text} {self.hint}"

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

    code: str = ApiCode.INVALID_REQUEST  # str: other packages subclass it with codes of their own
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
