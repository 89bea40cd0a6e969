"""The run's identity records the experiment's own code version: its distribution, version and a
content hash of its package, so a rerun after editing the experiment is visibly different (issue 10)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.storage import MemoryStore
from sweep_contracts.version import _package_version, experiment_version
from sweep_orchestrator.submit import submit_run
from tests.helpers import runtime_for

SOURCE = """
from pydantic import BaseModel
from sweep_contracts.experiments import Experiment


class Config(BaseModel):
    x: float = 0.0


def run(config: Config) -> dict[str, float]:
    return {"y": config.x * FACTOR}


FACTOR = {factor}
EXPERIMENT = Experiment(name="probe", config_model=Config, run=run)
"""


def install(site: Path, factor: int) -> None:
    package = site / "version_probe_exp"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text(SOURCE.replace("{factor}", str(factor)))
    info = site / "version_probe_exp-2.3.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: version-probe-exp\nVersion: 2.3\n")
    (info / "RECORD").write_text("version_probe_exp/__init__.py,,\n")
    (info / "top_level.txt").write_text("version_probe_exp\n")


def load(site: Path, factor: int) -> Experiment[object]:
    install(site, factor)
    sys.modules.pop("version_probe_exp", None)
    _package_version.cache_clear()
    experiment: Experiment[object] = importlib.import_module("version_probe_exp").EXPERIMENT
    return experiment


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("version_probe_exp", None)
    _package_version.cache_clear()


def test_manifest_records_the_experiment_package_version_and_hash(site: Path) -> None:
    # GIVEN an installed experiment package
    experiment = load(site, factor=2)
    rt, _ = runtime_for(MemoryStore())
    rt = type(rt)(**{**rt.__dict__, "registry": Registry([experiment])})
    # WHEN a run is submitted
    _, manifest = submit_run({"experiment": "probe", "config": {"x": 1}, "grid": {"x": [1, 2]}}, rt)
    # THEN the manifest names the experiment's distribution and version, and hashes its files
    assert manifest.code_version["experiment_package"] == "version-probe-exp 2.3"
    assert manifest.code_version["experiment_hash"] == experiment_version(experiment)["experiment_hash"]
    assert manifest.code_version["experiment_hash"].startswith("sha256:")
    assert "sweep" in manifest.code_version


def test_editing_the_experiment_changes_its_hash_and_bytecode_does_not(site: Path) -> None:
    # GIVEN the version of an experiment
    before = experiment_version(load(site, factor=2))
    # WHEN only bytecode appears next to it, the hash stays
    cache = site / "version_probe_exp" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "__init__.cpython-311.pyc").write_bytes(b"\0compiled")
    _package_version.cache_clear()
    assert experiment_version(load(site, factor=2)) == before
    # WHEN its source is edited (same version number)
    after = experiment_version(load(site, factor=3))
    # THEN the package version is the same and the content hash is not
    assert after["experiment_package"] == before["experiment_package"] == "version-probe-exp 2.3"
    assert after["experiment_hash"] != before["experiment_hash"]


def test_builtin_experiments_name_their_workspace_package() -> None:
    version = experiment_version(Registry.default().get("maze"))
    assert version["experiment_package"].startswith("sweepkit-experiments ")
    assert version["experiment_hash"].startswith("sha256:")
