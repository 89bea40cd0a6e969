"""Every distribution of the workspace is named with sweep's own prefix, and none of the names is
taken on the public index (issue 23: `sweep-cli` there is an unrelated tool, which an installer
looking for ours took instead, a higher version)."""

from __future__ import annotations

import os
import re
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sweep_contracts import packages

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".git", ".venv", ".tools", "node_modules", "build", "dist"}


def _projects() -> list[Path]:
    """The repository's pyproject.toml files, found without walking its virtualenvs (a glob of
    `**/pyproject.toml` read all of .venv, ~0.5 s of every test session's collection)."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if name not in SKIP]
        if "pyproject.toml" in files:
            found.append(Path(folder) / "pyproject.toml")
    return sorted(found)


PROJECTS = _projects()
INDEX = "https://pypi.org/simple/"


def names() -> dict[str, str]:
    """pyproject.toml (relative) → the distribution name it declares."""
    return {str(p.relative_to(ROOT)): tomllib.loads(p.read_text())["project"]["name"] for p in PROJECTS}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def test_every_distribution_carries_the_prefix() -> None:
    found = names()
    assert "cli/pyproject.toml" in found
    assert "examples/sample-experiment/pyproject.toml" in found
    assert {path: name for path, name in found.items() if not name.startswith(f"{packages.PREFIX}-")} == {}


def test_the_table_of_import_packages_names_the_workspace_distributions() -> None:
    declared = set(names().values()) - {f"{packages.PREFIX}-workspace", f"{packages.PREFIX}-sample-experiment"}
    assert set(packages.DISTRIBUTIONS.values()) == declared


def _status(name: str) -> int:
    request = urllib.request.Request(INDEX + normalized(name) + "/", headers={"Accept": "text/html"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.network
def test_no_distribution_name_resolves_on_the_public_index() -> None:
    # GIVEN the index answers at all (a known project's page) — else there is nothing to learn here
    try:
        reachable = _status("pip") == 200
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        pytest.skip(f"the public index ({INDEX}) is unreachable: {exc}")
    if not reachable:
        pytest.skip(f"the public index ({INDEX}) did not list `pip`")
    # WHEN each of our names is looked up THEN none is there (404: no such project)
    taken = {name: status for name in sorted(set(names().values())) if (status := _status(name)) != 404}
    assert taken == {}, "these distribution names resolve on PyPI: rename them (sweep_contracts.packages)"
