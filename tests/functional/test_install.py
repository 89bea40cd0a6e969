"""sweep installed into a researcher's own project, as docs/install.md says (issue 23 items 2 and 4):
the wheels of `make dist` in a fresh venv outside the repository, used from a folder of their own.

GIVEN the wheels and a venv in a temporary folder, WHEN the local-only CLI runs a sweep, a plugin
experiment is installed from its own folder (editable) and run, the `report` extra is added for a
report, and the rows are loaded with `sweep.load`, THEN each step works from that folder, with
`.tools/bin` first on PATH as the README once advised. The CLI alone (`uv tool install`) and the
clone's own environment (`uv run --project`) are tried from there too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SWEEP = """
experiment: synthetic
run_id: own-project
config: {y: -0.2}
grid:
  x: [0.0, 0.5, 1.0]
"""
EXTRA_MODULES = ("boto3", "botocore", "matplotlib", "httpx", "aws_lambda_powertools", "pulumi")

pytestmark = pytest.mark.slow


def uv() -> str:
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(ROOT / ".tools" / "bin" / "uv")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("no uv: `make install` provides one")


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(args)} in {cwd}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_sweep_in_your_own_project(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}}
    env.update(COLUMNS="200", NO_COLOR="1")
    dist, venv, work, plugin = tmp_path / "dist", tmp_path / "venv", tmp_path / "project", tmp_path / "my_sweeps"
    work.mkdir()
    # GIVEN the wheels (`make dist`) and a fresh venv outside the repository with the local-only CLI
    run(["make", "--no-print-directory", "dist", f"DIST={dist}", f"UV={uv()}"], ROOT, env)
    run([uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], tmp_path, env)
    active = {**env, "VIRTUAL_ENV": str(venv), "PATH": os.pathsep.join([str(venv / "bin"), env["PATH"]])}
    run([uv(), "pip", "install", "--quiet", "--find-links", str(dist), "sweepkit-cli"], work, active)
    installed = run([uv(), "pip", "list", "--format", "freeze"], work, active).stdout.lower()
    assert "sweepkit-cli==0.1.0" in installed
    assert not [m for m in ("boto3", "matplotlib", "httpx", "aws-lambda-powertools") if f"{m}==" in installed]

    # WHEN a sweep runs from the project's folder THEN its results are there
    (work / "sweep.yaml").write_text(SWEEP)
    ran = run(["sweep", "run", "sweep.yaml"], work, active)
    assert "3 ok, 0 error" in ran.stdout
    assert (work / "sweep-results" / "points" / "run_id=own-project").is_dir()

    # WHEN a plugin is installed from its own folder, `.tools/bin` first on PATH, the venv active
    shutil.copytree(ROOT / "examples" / "sample-experiment", plugin)
    with_tools = {**active, "PATH": os.pathsep.join([str(venv / "bin"), str(ROOT / ".tools" / "bin"), env["PATH"]])}
    run([uv(), "pip", "install", "--quiet", "-e", "."], plugin, with_tools)
    # THEN it went into the venv, and it runs from the project's folder
    listed = run(["sweep", "experiments"], work, active).stdout
    assert "sweepkit-sample-experiment 0.1.0" in listed
    sample = run(["sweep", "run", str(plugin / "sweep.yaml")], work, active)
    assert "4 ok, 0 error" in sample.stdout

    # WHEN a report is asked for THEN it is written by the local-only install (its figures are its own SVG)
    run(["sweep", "report", "own-project", "--no-open"], work, active)
    page = (work / "sweep-results" / "report-own-project.html").read_text()
    assert "own-project" in page
    assert page.count("<svg") >= 1

    # WHEN the rows are loaded in Python THEN they are the run's points
    loaded = run(
        ["python", "-c", "import sweep; df = sweep.load('own-project'); print(len(df), sorted(set(df['status'])))"],
        work,
        active,
    )
    assert loaded.stdout.strip() == "3 ['ok']"

    # WHEN the CLI alone is installed as a uv tool, with the plugin beside it THEN it runs the plugin's sweep
    tools = {**env, "UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "bin")}
    run(
        [uv(), "tool", "install", "--quiet", "--find-links", str(dist), "--with-editable", str(plugin), "sweepkit-cli"],
        work,
        tools,
    )
    tool = run(
        [str(tmp_path / "bin" / "sweep"), "run", str(plugin / "sweep.yaml"), "--out", "tool-results"], work, tools
    )
    assert "4 ok, 0 error" in tool.stdout

    # WHEN the clone's environment is used from the project's folder THEN its `sweep` runs there
    clone = run(
        [uv(), "run", "--project", str(ROOT), "sweep", "run", "sweep.yaml", "--out", "clone-results"], work, env
    )
    assert "3 ok, 0 error" in clone.stdout
    assert (work / "clone-results" / "points" / "run_id=own-project").is_dir()
