"""Reading the Lambda environment once: every name is a constant in `sweep_contracts.environment`."""

from __future__ import annotations

import os

from sweep_contracts import environment
from sweep_contracts.errors import ConfigurationError


def required(name: str, purpose: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(
            f"`{name}` is not set, so {purpose}.",
            field=name,
            hint="the Pulumi program sets it on deployed functions; set it yourself to run the handler elsewhere.",
        )
    return value


def settings_ttl() -> int:
    raw = os.environ.get(environment.SETTINGS_TTL, "300")
    try:
        return max(0, int(raw))
    except ValueError:
        return 300
