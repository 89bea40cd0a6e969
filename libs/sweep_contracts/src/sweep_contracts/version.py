"""The code version a manifest records: the package version, the build (artifact hash on Lambda,
git commit in a checkout), and the experiment's own package, version and content hash."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import subprocess
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweep_contracts import environment, packages

if TYPE_CHECKING:
    from sweep_contracts.experiments import Experiment


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
        package = version(packages.CONTRACTS)
    except PackageNotFoundError:
        package = "unknown"
    out = {"sweep": package}
    build = os.environ.get(environment.CODE_VERSION) or _git_commit()
    if build:
        out["build"] = build
    return out


def experiment_version(experiment: Experiment[Any]) -> dict[str, str]:
    """The experiment's own code version: `experiment_package` (distribution name and version) and
    `experiment_hash` (a content hash of the files of the package that defines it), so editing an
    experiment makes a rerun visibly a different computation even when its version did not move."""
    module = experiment.config_model.__module__
    top = module.split(".")[0]
    return _package_version(top)


def _distribution_of(top: str) -> str:
    """The distribution that provides the top-level package `top`: sweep's own by their table
    (`sweep_experiments` → `sweepkit-experiments`), else the one named like it when there is one,
    else the one whose files say so.
    The lookup by name comes first because `packages_distributions()` reads the file list of every
    installed distribution: ~0.6 s here, paid by every `sweep run`."""
    if top in packages.DISTRIBUTIONS:
        return packages.DISTRIBUTIONS[top]
    try:
        distribution(top)
    except PackageNotFoundError:
        dists = packages_distributions().get(top, [])
        return dists[0] if dists else top
    return top


@functools.cache
def _package_version(top: str) -> dict[str, str]:
    name = _distribution_of(top)
    try:
        dist = distribution(name)
        package = f"{dist.metadata['Name']} {dist.version}"
    except PackageNotFoundError:
        package = f"{name} unknown"
    out = {"experiment_package": package}
    digest = _tree_hash(top)
    if digest:
        out["experiment_hash"] = digest
    return out


def _tree_hash(top: str) -> str | None:
    """sha256 over the relative paths and bytes of the package's source files, in sorted order;
    bytecode caches are left out, so only an edit changes it."""
    spec = importlib.util.find_spec(top)
    roots = [Path(root) for root in (spec.submodule_search_locations or [])] if spec else []
    if roots:
        files = sorted(p for root in roots for p in root.rglob("*") if p.is_file() and _is_source(p))
        base = roots[0]
    elif spec is not None and spec.origin is not None and Path(spec.origin).is_file():
        files, base = [Path(spec.origin)], Path(spec.origin).parent
    else:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()[:16]}"


def _is_source(path: Path) -> bool:
    return "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}
