"""Errors of the Pulumi program, under sweep's one root, each with its own code from `InfraCode`.
The tree below continues the one drawn in `sweep_contracts.errors` (its root is defined there).

```
SweepError                          …
└── InfraError                      INFRA_ERROR                500
    ├── StackConfigError            INVALID_STACK_CONFIG       500
    ├── PackagingError              PACKAGING_FAILED           500
    └── PreflightError              PREFLIGHT_FAILED           500
```

`pulumi/__main__.py` turns an `InfraError` into `pulumi.RunError`, which Pulumi prints as the
message alone, without a traceback: these are the user's to fix."""

from __future__ import annotations

from enum import StrEnum

from sweep_contracts.errors import SweepError, register_codes


@register_codes
class InfraCode(StrEnum):
    """The stable `code` of each error of the Pulumi program."""

    INFRA_ERROR = "INFRA_ERROR"
    INVALID_STACK_CONFIG = "INVALID_STACK_CONFIG"
    PACKAGING_FAILED = "PACKAGING_FAILED"
    PREFLIGHT_FAILED = "PREFLIGHT_FAILED"


class InfraError(SweepError):
    """The stack cannot be deployed as configured; the message says how to fix it."""

    code = InfraCode.INFRA_ERROR


class StackConfigError(InfraError):
    """The stack config is incomplete or wrong; its hint is the command that fixes it."""

    code = InfraCode.INVALID_STACK_CONFIG
    hint_label = "Fix it with:"


class PackagingError(InfraError):
    """A Lambda artifact could not be built; its hint is a whole sentence saying what to do."""

    code = InfraCode.PACKAGING_FAILED
    hint_label = ""


class PreflightError(InfraError):
    """Something a deployment needs is missing; the message says what, the hint how to fix it."""

    code = InfraCode.PREFLIGHT_FAILED
    hint_label = "Fix:"
