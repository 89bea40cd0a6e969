"""The code version a manifest records: the package version, and the build (artifact hash on
Lambda, git commit in a checkout)."""

from __future__ import annotations

import functools
import os
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from sweep_contracts import environment


def _git(*args: str) -> str:
    here = Path(__file__).resolve().parent
    # fixed arguments, git from PATH; best effort, so any failure just means "no commit known"
    result = subprocess.run(  # noqa: S603
        ["git", "-C", str(here), *args],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=2,
        check=True,
    )
    return result.stdout.strip()


def _git_commit() -> str | None:
    try:
        commit = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"git:{commit}{'-dirty' if dirty else ''}" if commit else None


@functools.cache
def code_version() -> dict[str, str]:
    """{"sweep": package version, "build": deployed build or git commit}, computed once."""
    try:
        package = version("sweep-contracts")
    except PackageNotFoundError:
        package = "unknown"
    out = {"sweep": package}
    build = os.environ.get(environment.CODE_VERSION) or _git_commit()
    if build:
        out["build"] = build
    return out
