"""A local-only install (issue 23): without the `aws`, `report` and `llm` extras of sweepkit-cli a
sweep runs and its results query, and a command that needs an extra says which, in one paragraph.

The extras' modules are made unimportable in the `sweep` process and in its pool's processes (a
`sitecustomize` on PYTHONPATH), which is what a venv without them looks like to sweep's imports.
The wheels themselves are installed into a fresh venv by tests/functional/test_install.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweep_cli.extras import EXTRAS

BLOCKER = """
import sys

BLOCKED = {blocked!r}


class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _Blocked())
"""

SWEEP = """
experiment: synthetic
run_id: lean
config: {y: -0.2}
grid:
  x: [0.0, 0.1, 0.2]
"""


def sweep(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=sorted(EXTRAS)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "sweep_cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def hint(extra: str) -> str:
    return (
        f"  hint: install it beside sweep: `uv pip install --find-links DIST 'sweepkit-cli[{extra}]'` (or `pip install` "
        "the same), with DIST the folder of sweep's wheels (`make dist`; docs/install.md); `[all]` installs every "
        "extra. In a clone of sweep, `make install` installs them all.\n"
    )


@pytest.mark.slow
def test_a_local_run_and_its_report_need_no_extra(tmp_path: Path) -> None:
    # GIVEN a sweep file, and no boto3, matplotlib, httpx … importable
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    # WHEN it runs locally THEN every point runs and the results query
    ran = sweep(tmp_path, "run", "sweep.yaml", "--out", "out")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "3 ok, 0 error" in ran.stdout
    rows = sweep(tmp_path, "results", "lean", "--out", "out", "--sql", "SELECT count(*) AS n FROM points", "-f", "csv")
    assert rows.stdout == "n\n3\n", rows.stderr
    # WHEN it is reported THEN the page is written: the report draws its own SVG (no matplotlib)
    report = sweep(tmp_path, "report", "lean", "--out", "out", "--no-open")
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "out" / "report-lean.html").stat().st_size > 5_000


def test_a_stage_command_names_the_aws_extra(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    submitted = sweep(tmp_path, "submit", "sweep.yaml", "--stage", "dev")
    assert submitted.returncode == 2
    assert submitted.stderr == (
        "error: `sweep submit` needs `boto3`, which is not installed: it comes with the `aws` extra of sweepkit-cli.\n"
        + hint("aws")
    )


def test_an_llm_sweep_names_the_llm_extra(tmp_path: Path) -> None:
    # GIVEN the repository's LLM example (its endpoint is loopback; nothing is sent before the check)
    example = Path(__file__).resolve().parents[2] / "examples" / "llm-local.yaml"
    # WHEN it runs without httpx THEN the `llm` extra is named before any point runs
    ran = sweep(tmp_path, "run", str(example), "--out", "out")
    assert ran.returncode == 2
    assert ran.stderr == (
        "error: `sweep run` needs `httpx`, which is not installed: it comes with the `llm` extra of sweepkit-cli.\n"
        + hint("llm")
    )
    assert not (tmp_path / "out" / "runs").exists()
