"""The worker's logs: one JSON object per line on stdout, which Lambda sends to CloudWatch Logs.

The keys are those Powertools' Logger writes (level, location, message, timestamp, service, name,
cold_start, function_name, function_memory_size, function_arn, function_request_id, xray_trace_id,
exception_name, exception), so Logs Insights queries written for it keep working. Written with the
standard library because Powertools' Logger was ~60 ms of the ~330 ms every worker pays to import
its handler at a fan-out (`bench/RESULTS.md`, cold start), and what the worker used of it is this
formatter and the invocation's context; the orchestrator keeps Powertools (its API router needs it).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from contextvars import ContextVar
from typing import Any

SERVICE = "sweep-worker"
ROOT = "sweep"
"""The loggers whose records the worker formats: every `sweep.*` logger of the worker and its libraries."""

_context: ContextVar[dict[str, Any]] = ContextVar("sweep_worker_invocation", default={})  # noqa: B039 - never mutated
"""The current invocation's Lambda context, per thread: handlers run side by side in one process in
tests and in a notebook, and one invocation's end must not clear another's."""
_started: list[bool] = []
"""One entry once this environment's first invocation began: the rest are warm."""


class JsonFormatter(logging.Formatter):
    """A record as one JSON line, with the current invocation's Lambda context."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": self.timestamp(record),
            "service": self.service,
            "name": record.name,
            **_context.get(),
        }
        trace = _trace_id()
        if trace:
            entry["xray_trace_id"] = trace
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception_name"] = record.exc_info[0].__name__
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, default=str, ensure_ascii=False)

    @staticmethod
    def timestamp(record: logging.LogRecord) -> str:
        """As Powertools writes it: local time with milliseconds and the UTC offset."""
        local = time.localtime(record.created)
        return f"{time.strftime('%Y-%m-%d %H:%M:%S', local)},{int(record.msecs):03d}{time.strftime('%z', local)}"


def _trace_id() -> str | None:
    """The X-Ray trace of this invocation, which Lambda sets in the environment when tracing is on."""
    header = os.environ.get("_X_AMZN_TRACE_ID", "")
    for part in header.split(";"):
        key, _, value = part.partition("=")
        if key == "Root" and value:
            return value
    return None


def configure(service: str | None = None) -> logging.Logger:
    """Send `sweep.*` records to stdout as JSON lines, at `POWERTOOLS_LOG_LEVEL` (or `LOG_LEVEL`, else
    INFO). Idempotent: a second call replaces the handler, never adds one."""
    logger = logging.getLogger(ROOT)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service or os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE))
    logger.handlers = [handler]
    logger.propagate = False
    level = os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO"
    logger.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
    return logger


def begin_invocation(context: Any) -> None:
    """The Lambda context every record of this invocation carries; the first one is the cold start."""
    context_keys: dict[str, Any] = {"cold_start": not _started}
    _started[:] = [True]
    for key, attribute in (
        ("function_name", "function_name"),
        ("function_memory_size", "memory_limit_in_mb"),
        ("function_arn", "invoked_function_arn"),
        ("function_request_id", "aws_request_id"),
    ):
        value = getattr(context, attribute, None)
        if value is not None:
            context_keys[key] = value
    _context.set(context_keys)


def end_invocation() -> None:
    """No record after an invocation carries its context (Powertools' `clear_state`)."""
    _context.set({})
