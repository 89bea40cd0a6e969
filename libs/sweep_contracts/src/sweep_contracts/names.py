"""Naming rules for runs, experiments, parameters and series: each name ends up in storage keys,
table columns or URLs, so one pattern per kind of name, checked the same way everywhere."""

from __future__ import annotations

import re

RUN_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,62}$"
EXPERIMENT_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
AXIS_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"
SERIES_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def check_axis_name(name: str, where: str) -> None:
    """Raise ValueError (for pydantic to report) unless `name` is a valid parameter name."""
    if not re.fullmatch(AXIS_PATTERN, name):
        raise ValueError(
            f"{where} name {name!r} is not valid: use letters, digits, `_`, `.` or `-`, "
            "starting with a letter or `_` (at most 64 characters)"
        )
