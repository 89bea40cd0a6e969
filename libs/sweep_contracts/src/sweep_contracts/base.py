"""The base every contract model shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Base for contract models: immutable, and unknown fields are an error, not ignored."""

    # defer_build: a model's validator is built when it first validates, not at import: a worker
    # imports every contract model and validates a few (its task, its outcome)
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
