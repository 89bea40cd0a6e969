"""A user's experiment package shipped with the stage (issue 10): `examples/sample-experiment`, whose
run needs `cowsay` (not in sweep's lock), built into both artifacts the way `make package STACK=dev`
builds them — for THIS machine's platform, so the artifacts can run here — then run from the
unzipped artifact in an isolated interpreter: the worker runs a shard of it and writes Parquet;
the orchestrator validates its config without its run module or `cowsay`."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sweep_infra import packaging
from sweep_infra.errors import PackagingError
from tests.artifact_scripts import RUN_WORKER_HANDLER

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(platform.system() != "Linux", reason="manylinux wheels run on Linux"),
]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ("examples/sample-experiment",)
HOST = (f"{platform.machine()}-manylinux_2_28", f"{sys.version_info.major}.{sys.version_info.minor}")
# what no orchestrator may carry: the worker's data stack, and an experiment's runtime dependency
FORBIDDEN = ("pyarrow", "duckdb", "numpy", "pandas", "torch", "cowsay")
ORCHESTRATOR_CEILING = 56 * 2**20  # unzipped; 34.4 MiB when this was written, 43.9 MiB with bytecode (boto3/botocore)

Built = dict[str, packaging.Artifact]


@pytest.fixture(scope="module", params=[pytest.param(HOST, id="host")])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    target, python = request.param
    out = tmp_path_factory.mktemp("lambda")
    return {
        name: packaging.build(name, ROOT, out, platform=target, python=python, experiments=SAMPLE)
        for name in packaging.FUNCTIONS
    }


def unzip(artifact: packaging.Artifact, into: Path) -> Path:
    zipfile.ZipFile(artifact.path).extractall(into)
    return into


def isolated(script: str, site: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `script` in an interpreter that sees the stdlib and `site` only (no site-packages, no repo)."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(site), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "POWERTOOLS_LOG_LEVEL": "WARNING", **(env or {})},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


WORKER = RUN_WORKER_HANDLER
SHARD = {
    "kind": "sweep.shard",
    "run_id": "sample-artifact-1",
    "shard_id": 0,
    "shard_count": 1,
    "start": 0,
    "stop": 3,
    "experiment": "sample",
    "config": {"width": 40},
    "spec": {"grid": {"words": [1, 5, 40]}},
    "settings": {},
}


def test_the_worker_artifact_runs_a_shard_of_the_users_experiment_in_isolation(built: Built, tmp_path: Path) -> None:
    # GIVEN the worker artifact with the sample package, unzipped, and nothing else on the path
    site = unzip(built["worker"], tmp_path / "site")
    # WHEN an isolated interpreter runs the worker handler on a shard of `sample`
    line = isolated(WORKER, site, json.dumps(SHARD), env={"SWEEP_STORE": str(tmp_path / "results")})
    # THEN every point ran with the artifact's own cowsay, and the artifact's pyarrow wrote real Parquet
    outcome = json.loads(line)
    assert (outcome["status"], outcome["points_ok"], outcome["points_failed"]) == ("success", 3, 0)
    (written,) = (tmp_path / "results" / "points" / "run_id=sample-artifact-1").glob("shard=00000-*.parquet")
    rows = pq.read_table(written).to_pylist()
    assert [r["status"] for r in rows] == ["ok"] * 3
    lines = [dict(r["metrics"])["lines"] for r in rows]
    assert lines[0] < lines[2]  # forty words wrap onto more lines than one: cowsay really ran


VALIDATE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.dispatch import RecordingDispatcher
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.submit import submit_run

runtime = Runtime(MemoryStore(), RecordingDispatcher(), lambda: SystemSettings.resolve({}, source="default"))
answer = {}
for name, request in json.loads(sys.argv[2]).items():
    try:
        answer[name] = submit_run(request, runtime)[0].points
    except Exception as exc:
        answer[name] = f"{exc.field}: {exc.message}"
heavy = [m for m in ("sample_experiment.model", "cowsay", "pyarrow", "numpy") if m in sys.modules]
print(json.dumps({"answer": answer, "heavy": heavy}))
"""


def test_the_orchestrator_artifact_validates_the_experiments_config_without_its_run_module(
    built: Built, tmp_path: Path
) -> None:
    # GIVEN the orchestrator artifact with the sample package, unzipped
    site = unzip(built["orchestrator"], tmp_path / "site")
    requests = {
        "good": {"experiment": "sample", "run_id": "good-1", "config": {"words": 3}, "grid": {"width": [20, 40]}},
        "bad": {"experiment": "sample", "run_id": "bad-1", "config": {"words": 0}, "grid": {"width": [20]}},
    }
    # WHEN an isolated interpreter submits a good and a bad sweep of `sample` through the orchestrator core
    found = json.loads(isolated(VALIDATE, site, json.dumps(requests)))
    # THEN the good one is planned, the bad one refused naming the field, and nothing heavy was imported
    assert found["answer"]["good"] == 2
    assert found["answer"]["bad"].startswith("config.words:")
    assert found["heavy"] == []


def test_the_orchestrator_artifact_grows_no_heavy_dependency(built: Built) -> None:
    # GIVEN both artifacts built with an experiment package that depends on cowsay
    orchestrator = zipfile.ZipFile(built["orchestrator"].path).namelist()
    worker = zipfile.ZipFile(built["worker"].path).namelist()
    # THEN the orchestrator has the experiment's config model and entry point but none of the heavy modules
    assert "sample_experiment/__init__.py" in orchestrator
    assert "sweepkit_sample_experiment-0.1.0.dist-info/entry_points.txt" in orchestrator
    carried = sorted({heavy for heavy in FORBIDDEN for name in orchestrator if name.startswith(heavy)})
    assert carried == []
    assert built["orchestrator"].unzipped_bytes < ORCHESTRATOR_CEILING
    # AND the worker has the run module and its dependency
    assert "sample_experiment/model.py" in worker
    assert any(name.startswith("cowsay/") for name in worker)


def test_a_rebuild_with_the_experiment_is_byte_identical(built: Built, tmp_path: Path) -> None:
    # WHEN the orchestrator (which builds the sample package from source too) is built again
    again = packaging.build("orchestrator", ROOT, tmp_path, *HOST, experiments=SAMPLE)
    # THEN the zip is the same to the byte: sorted entries, fixed times, no installer records
    assert again.path.read_bytes() == built["orchestrator"].path.read_bytes()
    infos = zipfile.ZipFile(again.path).infolist()
    assert [i.filename for i in infos] == sorted((i.filename for i in infos), key=lambda name: name.split("/"))
    assert {i.date_time for i in infos} == {packaging.FIXED_TIME}
    assert not any(i.filename.endswith(("/RECORD", "/direct_url.json", ".lock")) for i in infos)


def test_an_artifact_over_the_unzipped_limit_says_how_much_and_what_to_do(tmp_path: Path) -> None:
    # WHEN the orchestrator is built against a 10 MiB limit (Lambda's is 250 MiB)
    with pytest.raises(PackagingError) as caught:
        packaging.build("orchestrator", ROOT, tmp_path, *HOST, experiments=SAMPLE, limit=10 * 2**20)
    # THEN the error says the size, how much over, what weighs most and the ways out; no zip is left
    message = str(caught.value)
    assert message.startswith("the orchestrator artifact would be ")
    assert "MiB over Lambda's 10.0 MiB limit" in message
    assert "largest: botocore" in message
    assert "sweep:experimentPackages" in message
    assert "layer" in message
    assert not (tmp_path / "orchestrator.zip").exists()
