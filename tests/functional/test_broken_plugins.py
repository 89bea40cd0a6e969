"""A broken installed experiment plugin (a typo in its entry point, a module importing something not
installed) is one warning where it is asked for and an error only for the sweep that asks for it (issue 10);
commands that do not need it do not import it (issue 20).

The plugins are real distributions: a `*.dist-info` with `entry_points.txt` in a directory put on the
real `sweep` command's `PYTHONPATH`, so `importlib.metadata` finds them as it finds any installed package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweep_contracts.errors import UnknownExperimentError
from sweep_contracts.experiments import PluginWarning, Registry

pytestmark = pytest.mark.slow  # each test starts the `sweep` command: not in `make test-fast`

SWEEP = str(Path(sys.executable).with_name("sweep"))
EXAMPLE = Path(__file__).parents[2] / "examples" / "maze.yaml"


def install_plugin(site: Path, dist: str, entry: str, module: str, source: str) -> None:
    """A minimal installed distribution `dist` registering experiment `entry` from `module`."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[sweep.experiments]\n{entry} = {module}:EXPERIMENT\n")


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    # a typo in the entry point: the module has `EXPERMENT`, the entry point asks for `EXPERIMENT`
    install_plugin(site, "typo-plugin", "typo", "typo_plugin", "EXPERMENT = None\n")
    # a heavy dependency that is not installed
    install_plugin(site, "torch-plugin", "deep", "torch_plugin", "import torch_not_installed_here\n")
    return site


def sweep(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    return subprocess.run(  # noqa: PLW1510 - the caller judges the return code
        [SWEEP, *args], capture_output=True, text=True, timeout=180, env=env, cwd=cwd
    )


def test_broken_plugins_leave_the_example_alone_and_warn_once_where_asked_for(
    broken_site: Path, tmp_path: Path
) -> None:
    # GIVEN two broken plugins installed next to sweep
    # WHEN the example sweep runs
    result = sweep(broken_site, "run", str(EXAMPLE), "--set", "repeats=1", "--out", "out", "-q", cwd=tmp_path)
    # THEN it succeeds without a traceback; it did not import them, so it has nothing to say about them
    # (issue 20, item 12: this asserted a warning per plugin here, when every command imported every plugin)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "typo-plugin" not in result.stderr
    assert "torch-plugin" not in result.stderr
    # AND the list names them from their metadata; describing one is one warning naming its package and error
    listed = sweep(broken_site, "experiments", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "typo  from package `typo-plugin 1.0`" in listed.stdout
    assert "deep  from package `torch-plugin 1.0`" in listed.stdout
    for name, package, error in [
        ("typo", "typo-plugin", "AttributeError"),
        ("deep", "torch-plugin", "ModuleNotFoundError: No module named 'torch_not_installed_here'"),
    ]:
        described = sweep(broken_site, "experiments", name, cwd=tmp_path)
        assert described.returncode == 2, described.stderr
        assert "Traceback" not in described.stderr
        warned = [line for line in described.stderr.splitlines() if package in line and line.startswith("warning:")]
        assert len(warned) == 1, described.stderr
        assert error in warned[0]


def test_a_sweep_asking_for_a_broken_plugin_fails_with_one_paragraph(broken_site: Path, tmp_path: Path) -> None:
    # GIVEN a sweep file asking for the plugin whose import fails
    (tmp_path / "deep.yaml").write_text("experiment: deep\nconfig: {lr: 0.1}\ngrid: {lr: [0.1, 0.2]}\n")
    # WHEN it runs
    result = sweep(broken_site, "run", "deep.yaml", "--out", "out", "-q", cwd=tmp_path)
    # THEN exit 2 and one paragraph naming the experiment, the package, the error and the fix
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = result.stderr[result.stderr.index("error: ") :].strip()
    assert "\n\n" not in message
    assert "experiment `deep` is installed but could not be loaded" in message
    assert "`torch-plugin 1.0`" in message
    assert "No module named 'torch_not_installed_here'" in message
    assert "hint: fix or reinstall the package `torch-plugin 1.0`" in message


def test_registry_keeps_broken_plugins_aside(broken_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the broken plugins on sys.path of this interpreter
    monkeypatch.syspath_prepend(str(broken_site))
    # WHEN the registry loads the installed entry points
    with pytest.warns(PluginWarning) as warned:
        registry = Registry.from_entry_points()
    # THEN each broken one is one warning; the built-ins load; asking for a broken one names its package
    assert sorted(str(w.message).split("`")[1] for w in warned) == ["deep", "typo"]
    assert "maze" in registry.names()
    assert set(registry.broken) == {"typo", "deep"}
    with pytest.raises(UnknownExperimentError) as info:
        registry.get("typo")
    assert info.value.to_dict()["message"] == (
        "experiment `typo` is installed but could not be loaded: `typo` from package `typo-plugin 1.0` "
        "(`typo_plugin:EXPERIMENT`) failed with AttributeError: module 'typo_plugin' has no attribute 'EXPERIMENT'"
    )
