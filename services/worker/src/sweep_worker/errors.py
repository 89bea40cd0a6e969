"""Errors of the worker."""

from __future__ import annotations

from sweep_contracts.errors import SweepError


class WorkerConfigurationError(SweepError):
    """The worker's runtime environment is incomplete (no store configured, say)."""

    code = "WORKER_MISCONFIGURED"
