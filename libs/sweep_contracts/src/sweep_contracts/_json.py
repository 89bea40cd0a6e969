"""Canonical JSON: one text per value, so hashes and stored configs compare byte for byte."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, no NaN: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of `value`, hex encoded."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def param_text(value: Any) -> str:
    """How a parameter value is stored in the `params` map: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else canonical_json(value)
