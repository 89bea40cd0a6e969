"""Plugins cannot stop, hijack or slow commands about other experiments (issue 20, item 12).

A command imports only the plugin of the experiment it works with; a plugin's import sees only its
own name in `sys.argv`, and one that exits or raises is a warning naming it (and an error for a sweep
that asks for it), never the command's exit; a name two packages register, or a plugin taking a
built-in's name, is refused naming both packages. The plugins are real distributions on the real
`sweep` command's `PYTHONPATH` (as in `test_broken_plugins`); each writes a marker file when it is
imported, so the tests assert what was imported rather than time anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test starts the `sweep` command: not in `make test-fast`

SWEEP = str(Path(sys.executable).with_name("sweep"))
EXAMPLE = Path(__file__).parents[2] / "examples" / "maze.yaml"

WORKING = """
from pydantic import BaseModel
from sweep_contracts.experiments import Experiment


class Config(BaseModel):
    x: float = 0.0


EXPERIMENT = Experiment(name={name!r}, config_model=Config, run=lambda c: {{"value": c.x}}, description={about!r})
"""


def install(site: Path, dist: str, entry: str, module: str, body: str, about: str = "") -> None:
    """A distribution `dist` registering experiment `entry` from `module`, which marks its import
    (`<module>.imported`, holding the `sys.argv` it saw) and then runs `body`."""
    marker = site / f"{module}.imported"
    head = f"import json, sys\nopen({str(marker)!r}, 'w').write(json.dumps(sys.argv))\n"
    (site / f"{module}.py").write_text(head + body + WORKING.format(name=entry, about=about))
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"  # as installers name it: `-` splits name and version
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[sweep.experiments]\n{entry} = {module}:EXPERIMENT\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    install(site, "slow-plugin", "slow", "slow_plugin", "import time\ntime.sleep(30)\n")
    install(site, "exit-plugin", "quits", "exit_plugin", "raise SystemExit(0)\n")
    argv = "import argparse\nargparse.ArgumentParser(prog='argv-plugin').parse_args()\n"
    install(site, "argv-plugin", "argv", "argv_plugin", argv, about="parses the command line on import")
    install(site, "twin-a", "twin", "twin_a", "")
    install(site, "twin-b", "twin", "twin_b", "")
    install(site, "evil-maze", "maze", "evil_maze", "")
    return site


def sweep(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    return subprocess.run(  # noqa: PLW1510 - the caller judges the return code
        [SWEEP, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


def imported(site: Path) -> set[str]:
    return {path.stem for path in site.glob("*.imported")}


def clear(site: Path) -> None:
    for path in site.glob("*.imported"):
        path.unlink()


def test_commands_about_other_experiments_import_no_plugin(site: Path, tmp_path: Path) -> None:
    # GIVEN plugins that sleep 30 s, exit 0, or parse sweep's command line when imported
    clear(site)
    # WHEN the experiments are listed, and a built-in's sweep is run and read
    listed = sweep(site, tmp_path, "experiments")
    ran = sweep(site, tmp_path, "run", str(EXAMPLE), "--set", "repeats=1", "--out", "out", "--run-id", "maze-run")
    read = sweep(site, tmp_path, "results", "maze-run", "--out", "out", "--format", "json")
    # THEN none of those plugins was imported, and each command did its work
    assert imported(site) == set(), (listed.stderr, ran.stderr, read.stderr)
    assert listed.returncode == 0, listed.stderr
    for name, package in [("slow", "slow-plugin 1.0"), ("quits", "exit-plugin 1.0"), ("argv", "argv-plugin 1.0")]:
        assert f"{name}  from package `{package}`; `sweep experiments {name}` shows it" in listed.stdout
    assert "twin  refused: registered by twin-a 1.0 and twin-b 1.0" in listed.stdout
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "Traceback" not in ran.stderr
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)  # the run ran: it has a summary


def test_a_plugin_that_exits_on_import_is_an_error_never_exit_0(site: Path, tmp_path: Path) -> None:
    # GIVEN a sweep of the experiment whose plugin raises SystemExit(0) when imported
    (tmp_path / "quits.yaml").write_text("experiment: quits\nconfig: {x: 1.0}\ngrid: {x: [1.0, 2.0]}\n")
    # WHEN it runs, and the experiment is described
    ran = sweep(site, tmp_path, "run", "quits.yaml", "--out", "out")
    described = sweep(site, tmp_path, "experiments", "quits")
    # THEN both exit 2 with a warning and one error paragraph naming the plugin, its package and the exit
    for result in (ran, described):
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        assert lines[0] == (
            "warning: skipping experiment plugin `quits` from package `exit-plugin 1.0` (`exit_plugin:EXPERIMENT`) "
            "failed with SystemExit(0) while it was imported"
        )
        assert lines[1].startswith("error: experiment `quits` is installed but could not be loaded")
        assert "hint: fix or reinstall the package `exit-plugin 1.0`" in result.stderr
    assert not (tmp_path / "out" / "manifests").exists() or not any((tmp_path / "out").rglob("*.parquet"))


def test_a_plugin_parsing_the_command_line_sees_only_its_name(site: Path, tmp_path: Path) -> None:
    # GIVEN the plugin that parses `sys.argv` with argparse when it is imported
    clear(site)
    # WHEN sweep describes it (with an option the plugin's parser does not know)
    result = sweep(site, tmp_path, "experiments", "argv")
    # THEN the plugin saw only its own name, and sweep answered, not the plugin's usage error
    assert result.returncode == 0, result.stderr
    assert "usage: argv-plugin" not in result.stderr
    assert "parses the command line on import" in result.stdout
    assert json.loads((site / "argv_plugin.imported").read_text()) == ["argv"]


def test_a_name_two_packages_register_is_refused_naming_both(site: Path, tmp_path: Path) -> None:
    # GIVEN two packages registering experiment `twin`
    clear(site)
    (tmp_path / "twin.yaml").write_text("experiment: twin\nconfig: {x: 1.0}\n")
    # WHEN a sweep asks for it
    result = sweep(site, tmp_path, "run", "twin.yaml", "--out", "out")
    # THEN exit 2 naming both packages and the fix; neither was imported (none is chosen by sys.path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0] == (
        "error: experiment `twin` is registered by 2 packages: `twin-a 1.0`, `twin-b 1.0`; "
        "sweep does not choose between them."
    )
    assert "hint: uninstall all but one of them" in result.stderr
    assert imported(site) == set()


def test_a_plugin_taking_a_builtin_name_is_ignored_naming_both(site: Path, tmp_path: Path) -> None:
    # GIVEN a package registering an experiment named `maze`, as the built-in is
    clear(site)
    # WHEN the maze example runs
    result = sweep(site, tmp_path, "run", str(EXAMPLE), "--set", "repeats=1", "--out", "out", "-q")
    # THEN the built-in ran; the plugin was not imported, and one warning names both packages
    assert result.returncode == 0, result.stderr
    assert "evil_maze" not in imported(site)
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1, result.stderr
    assert warned[0].startswith(
        "warning: ignoring experiment plugin `maze` from package `evil-maze 1.0`: `maze` is the name of sweep's "
        "built-in experiment (package `sweepkit-experiments "
    )
