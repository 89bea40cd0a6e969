"""The error answer's schema, shared by the API's routes and the admin router (which `api` includes,
so it cannot import `api` back)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sweep_contracts.base import Frozen

WORDS = {
    400: "Invalid request",
    404: "No such run",
    409: "run_id reused with other content",
    413: "Over a cap of the stage settings",
    503: "The result store is unavailable",
}


class ErrorBody(Frozen):
    """Every error answer."""

    code: str = Field(examples=["MISSING_CONFIG"])
    message: str
    field: str | None = None
    value: Any = None
    limit: Any = None
    hint: str | None = None
    problems: list[dict[str, Any]] | None = None
    current: dict[str, Any] | None = Field(
        default=None, description="SETTING_CONFLICT: the setting's value and version now (version 0: none)."
    )


def error_responses(*statuses: int, **descriptions: str) -> dict[int, Any]:
    """OpenAPI `responses` entries whose body is `ErrorBody`; `descriptions` (`e400="…"`) replace
    the generic words of a status."""
    return {
        s: {
            "description": descriptions.get(f"e{s}", WORDS[s]),
            "content": {"application/json": {"model": ErrorBody}},
        }
        for s in statuses
    }
