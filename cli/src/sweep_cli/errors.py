"""Errors of the command line."""

from __future__ import annotations

from sweep_contracts.errors import RequestError, SweepError


class SweepFileError(RequestError):
    """A sweep or settings file cannot be read or parsed."""

    code = "INVALID_FILE"


class UsageError(SweepError):
    """The command line's arguments do not fit together."""

    code = "USAGE"
    http_status = 400
