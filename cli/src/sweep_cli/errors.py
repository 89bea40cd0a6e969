"""Errors of the command line."""

from __future__ import annotations

from sweep_contracts.errors import ApiCode, RequestError, SweepError


class SweepFileError(RequestError):
    """A sweep or settings file cannot be read or parsed."""

    code = ApiCode.INVALID_FILE


class UsageError(SweepError):
    """The command line's arguments do not fit together."""

    code = ApiCode.USAGE
    http_status = 400
