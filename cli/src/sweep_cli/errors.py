"""Errors of the command line. Each one is a `SweepError` with its own code from `CliCode`; the tree
below continues the one drawn in `sweep_contracts.errors` (its root and the classes marked `…` are
defined there).

```
SweepError                          code                HTTP    exit
├── RequestError                    …                   400     2
│   └── SweepFileError              INVALID_FILE        400     2
├── UsageError                      USAGE               400     2
│   ├── CredentialsError            NO_CREDENTIALS      401     2
│   └── MissingExtraError           MISSING_EXTRA       400     2
├── RemoteError                     REMOTE_ERROR        the API's: 4xx → 2, else 1
└── ServiceError                    SERVICE_FAILED      502     1
    ├── StageUnreachableError       STAGE_UNREACHABLE   503     1
    └── QueryError                  QUERY_FAILED        502     1
```

The exit code follows the HTTP status (see `sweep_cli.app.handles_errors`): 2 for the caller's
mistake (4xx: bad input, a run that does not exist, a request the stage refuses), 1 when something
the command needed failed (5xx: the stage's API, Athena, DuckDB, SSM, the store).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sweep_contracts.errors import FieldProblem, RequestError, SweepError, register_codes


@register_codes
class CliCode(StrEnum):
    """The stable `code` of each error of the command line."""

    INVALID_FILE = "INVALID_FILE"
    USAGE = "USAGE"
    NO_CREDENTIALS = "NO_CREDENTIALS"
    MISSING_EXTRA = "MISSING_EXTRA"
    """A command needs a module that an extra of sweepkit-cli installs (`sweep_cli.extras`)."""
    SERVICE_FAILED = "SERVICE_FAILED"
    STAGE_UNREACHABLE = "STAGE_UNREACHABLE"
    QUERY_FAILED = "QUERY_FAILED"
    REMOTE_ERROR = "REMOTE_ERROR"
    """A `RemoteError` whose answer carried no code; one that did takes the API's own."""
    FORBIDDEN = "FORBIDDEN"
    """The stage's API refused a request (the caller's identity may not invoke it)."""
    HTTP_ERROR = "HTTP_ERROR"
    """The stage's API answered with a status and body that are not a sweep error."""


class SweepFileError(RequestError):
    """A sweep or settings file cannot be read or parsed."""

    code = CliCode.INVALID_FILE


class UsageError(SweepError):
    """The command line's arguments do not fit together, or name a stage that cannot be found."""

    code = CliCode.USAGE
    http_status = 400


class CredentialsError(UsageError):
    """No AWS credentials were found to sign a request to the stage."""

    code = CliCode.NO_CREDENTIALS
    http_status = 401


class MissingExtraError(UsageError):
    """A command needs a module that an extra of sweepkit-cli installs, and it is not installed."""

    code = CliCode.MISSING_EXTRA


class ServiceError(SweepError):
    """A service the command needed (SSM, S3, the stage's API) failed or refused the call."""

    code = CliCode.SERVICE_FAILED
    http_status = 502


class StageUnreachableError(ServiceError):
    """The stage's API could not be reached at all."""

    code = CliCode.STAGE_UNREACHABLE
    http_status = 503


class QueryError(ServiceError):
    """DuckDB or Athena could not run the SQL (a mistake in it, a timeout, the bytes-scanned cutoff)."""

    code = CliCode.QUERY_FAILED


class RemoteError(SweepError):
    """The stage's API answered with an error; the code and status are the API's own."""

    code: str = CliCode.REMOTE_ERROR

    def __init__(self, status: int, body: Any, url: str) -> None:
        self.body = body
        if isinstance(body, dict) and "code" in body and "message" in body:
            super().__init__(
                body["message"],
                field=body.get("field"),
                value=body.get("value"),
                limit=body.get("limit"),
                hint=body.get("hint"),
                problems=[FieldProblem(**p) for p in body.get("problems") or []],
            )
            self.code = body["code"]
        elif status == 403:
            detail = body.get("message") if isinstance(body, dict) else str(body)
            super().__init__(
                f"the API refused the request ({detail}).",
                hint="your AWS identity needs execute-api:Invoke on this stage's API (see docs/deploy.md, "
                "'Granting access'), and the request must be signed for its region.",
            )
            self.code = CliCode.FORBIDDEN
        else:
            super().__init__(
                f"{url} answered HTTP {status}: {str(body)[:300]}",
                hint="try again; if it persists, look in the orchestrator's logs.",
            )
            self.code = CliCode.HTTP_ERROR
        self.http_status = status
