"""The optional parts of sweepkit-cli and the error a command gives when its part is not installed.

A local-only install (`pip install sweepkit-cli`) runs sweeps, queries, reports and loads results;
the stage's commands need the `aws` extra (boto3) and the LLM experiments the `llm` extra (httpx).
Those modules are imported where a command uses them, so the base import path stays lean, and a
missing one surfaces here as one paragraph naming the extra, not a traceback (issue 23).
"""

from __future__ import annotations

from sweep_cli.errors import MissingExtraError
from sweep_contracts.packages import CLI

EXTRAS: dict[str, str] = {
    "boto3": "aws",
    "botocore": "aws",
    "sweep_aws": "aws",
    "aws_lambda_powertools": "aws",
    "tenacity": "aws",
    "httpx": "llm",
    "re2": "llm",
}
"""Top-level module → the extra of sweepkit-cli that installs it."""


def missing_extra(exc: ModuleNotFoundError, command: str | None) -> MissingExtraError | None:
    """The error to show for `exc`, when an extra provides the missing module; else None."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    doing = f"`sweep {command}`" if command else "this command"
    return MissingExtraError(
        f"{doing} needs `{top}`, which is not installed: it comes with the `{extra}` extra of {CLI}.",
        field="extra",
        value=extra,
        hint=f"install it beside sweep: `uv pip install --find-links DIST '{CLI}[{extra}]'` (or `pip install` the "
        f"same), with DIST the folder of sweep's wheels (`make dist`; docs/install.md); `[all]` installs every extra. "
        "In a clone of sweep, `make install` installs them all.",
    )
