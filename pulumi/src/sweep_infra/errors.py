"""Errors of the Pulumi program, under sweep's one root (drawn in `sweep_contracts.errors`).

`pulumi/__main__.py` turns an `InfraError` into `pulumi.RunError`, which Pulumi prints as the
message alone, without a traceback: these are the user's to fix."""

from __future__ import annotations

from sweep_contracts.errors import ApiCode, SweepError


class InfraError(SweepError):
    """The stack cannot be deployed as configured; the message says how to fix it."""

    code = ApiCode.INFRA_ERROR


class StackConfigError(InfraError):
    """The stack config is incomplete or wrong; the message says how to fix it."""

    code = ApiCode.INVALID_STACK_CONFIG


class PackagingError(InfraError):
    """A Lambda artifact could not be built."""

    code = ApiCode.PACKAGING_FAILED


class PreflightError(InfraError):
    """Something a deployment needs is missing; the message says what and how to fix it."""

    code = ApiCode.PREFLIGHT_FAILED
