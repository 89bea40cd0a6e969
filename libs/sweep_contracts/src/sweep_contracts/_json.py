"""Canonical JSON: one text per value, so hashes and stored configs compare byte for byte."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Hashable
from typing import Any

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, no NaN: the same value always gives the same text."""
    return _ENCODER.encode(value)


def identity(value: Any) -> Hashable:
    """A key equal for two JSON values exactly when their canonical JSON is equal (`1`, `1.0` and
    `true` differ), computed without encoding scalars; raises ValueError for NaN or infinity."""
    if value is None or isinstance(value, str | bool | int):
        return (type(value), value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a JSON number")
        return (float, value)
    return canonical_json(value)


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of `value`, hex encoded."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def param_text(value: Any) -> str:
    """How a parameter value is stored in the `params` map: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and math.isfinite(value):
        return repr(value)  # what the JSON encoder writes for numbers
    return canonical_json(value)


def check_json(value: Any, what: str) -> None:
    """Raise ValueError (for pydantic to report) if `value` holds NaN or infinity."""
    try:
        canonical_json(value)
    except ValueError as exc:
        raise ValueError(f"{what} holds NaN or infinity, which JSON cannot carry; use a finite number") from exc
