"""Lambda artifacts: reproducible to the byte, within Lambda's limits, and self-contained."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sweep_infra import bytecode, packaging
from tests.artifact_scripts import RUN_WORKER_HANDLER, WITHOUT_BYTECODE

pytestmark = pytest.mark.slow  # builds Lambda artifacts: not in `make test-fast`

ROOT = Path(__file__).resolve().parents[2]
TAG = "cpython-" + packaging.LAMBDA_PYTHON.replace(".", "")
# where each function's handler module lives in its artifact
HANDLER_PACKAGES = {
    "orchestrator": "sweep_orchestrator",
    "worker": "sweep_worker",
    "search": "sweep_orchestrator/search",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, packaging.Artifact]:
    out = tmp_path_factory.mktemp("lambda")
    return {name: packaging.build(name, ROOT, out) for name in packaging.FUNCTIONS}


def test_an_unchanged_tree_builds_a_byte_identical_artifact(
    built: dict[str, packaging.Artifact], tmp_path: Path
) -> None:
    again = packaging.build("orchestrator", ROOT, tmp_path)
    assert again.path.read_bytes() == built["orchestrator"].path.read_bytes()
    assert again.key == built["orchestrator"].key


def test_sizes_are_within_lambdas_limits(
    built: dict[str, packaging.Artifact], capsys: pytest.CaptureFixture[str]
) -> None:
    for artifact in built.values():
        assert artifact.unzipped_bytes < packaging.UNZIPPED_LIMIT
    assert built["orchestrator"].zipped_bytes < packaging.DIRECT_UPLOAD_LIMIT
    with capsys.disabled():
        for a in built.values():
            print(f"\n  {a.name}: {a.zipped_bytes / 2**20:.1f} MiB zipped, {a.unzipped_bytes / 2**20:.1f} MiB unzipped")


def test_the_orchestrator_carries_no_pyarrow_and_no_build_leftovers(built: dict[str, packaging.Artifact]) -> None:
    for artifact in built.values():
        names = zipfile.ZipFile(artifact.path).namelist()
        assert not any(n.endswith(("/RECORD", "/INSTALLER", "/direct_url.json")) for n in names)
        # the only bytecode is the runtime's, compiled here (an installer's or another Python's would be dead weight)
        assert all(n.endswith(f".{TAG}.pyc") for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo")))
        assert {i.date_time for i in zipfile.ZipFile(artifact.path).infolist()} == {packaging.FIXED_TIME}
        assert "sweepkit_experiments-0.1.0.dist-info/entry_points.txt" in names  # the registry needs it
    assert not any(n.startswith("pyarrow/") for n in zipfile.ZipFile(built["orchestrator"].path).namelist())
    assert any(n.startswith("pyarrow/") for n in zipfile.ZipFile(built["worker"].path).namelist())
    assert "sweep_orchestrator/handler.py" in zipfile.ZipFile(built["orchestrator"].path).namelist()


def test_the_orchestrator_leaves_a_searchs_optuna_out(built: dict[str, packaging.Artifact]) -> None:
    # GIVEN the orchestrator's and the worker's artifacts  THEN neither ships the orchestrator's `search`
    # extra (Optuna, numpy): the API's function stays lean; a search's rounds step in the search function
    for artifact in (built["orchestrator"], built["worker"]):
        tops = {name.split("/")[0] for name in zipfile.ZipFile(artifact.path).namelist()}
        assert not {"optuna", "numpy", "sqlalchemy"} & tops


def test_the_search_function_ships_optuna_its_handler_and_no_pyarrow(built: dict[str, packaging.Artifact]) -> None:
    # GIVEN the search function's artifact  THEN it carries Optuna (and numpy) beside its handler,
    # and, like the orchestrator's, no pyarrow (a round is read from the outcomes' tallies)
    names = zipfile.ZipFile(built["search"].path).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {"optuna", "numpy"} <= tops
    assert "sweep_orchestrator/search/handler.py" in names
    assert "pyarrow" not in tops


def test_the_search_function_leaves_out_what_optuna_declares_and_it_never_imports(
    built: dict[str, packaging.Artifact],
) -> None:
    # GIVEN the search function's artifact
    names = zipfile.ZipFile(built["search"].path).namelist()
    tops = {name.split("/")[0] for name in names}
    # THEN Optuna's RDB storage (SQLAlchemy, Alembic, Mako, MarkupSafe) and its CLI's pyyaml are not in it,
    # neither their modules nor their metadata, while what `import optuna` imports is
    assert not set(packaging.SEARCH_LEFT_OUT.values()) & tops
    dists = {top.split("-")[0].lower() for top in tops if top.endswith(".dist-info")}
    assert not set(packaging.SEARCH_LEFT_OUT) & dists
    assert {"optuna", "numpy", "colorlog", "tqdm", "packaging"} <= tops
    # AND numpy comes without its test suites
    assert not [n for n in names if n.startswith("numpy/") and "/tests/" in n]


def test_every_module_ships_with_the_runtimes_bytecode(built: dict[str, packaging.Artifact]) -> None:
    # GIVEN the artifacts built for Lambda (CPython 3.12), on a machine that has a CPython 3.12 to compile with
    runtime = bytecode.interpreter(packaging.LAMBDA_PYTHON)
    if runtime is None:
        pytest.skip(bytecode.missing(packaging.LAMBDA_PYTHON))
    magic = subprocess.run(
        [str(runtime), "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for artifact in built.values():
        archive = zipfile.ZipFile(artifact.path)
        names = set(archive.namelist())
        sources = [n for n in names if n.endswith(".py")]
        # WHEN we look for each module's pyc
        missing = [
            n
            for n in sources
            if f"{n.rpartition('/')[0]}/__pycache__/{n.rpartition('/')[2][:-3]}.{TAG}.pyc".lstrip("/") not in names
        ]
        # THEN every module has one: the runtime's magic, unchecked-hash (flags 0b01: the zip's 1980 timestamps
        # match no source, and /var/task never changes), naming the deployed path, not this machine's build directory
        assert artifact.compiled
        assert missing == []
        package = HANDLER_PACKAGES[artifact.name]
        handler = archive.read(f"{package}/__pycache__/handler.{TAG}.pyc")
        assert (handler[:4].hex(), int.from_bytes(handler[4:8], "little")) == (magic, 0b01)
        assert f"/var/task/{package}/handler.py".encode() in handler
        assert b"-site/" not in handler


SHARD = {
    "kind": "sweep.shard",
    "run_id": "artifact-1",
    "shard_id": 0,
    "shard_count": 1,
    "start": 0,
    "stop": 4,
    "experiment": "maze",
    "config": {"size": 7, "max_moves": 200},
    "spec": {"grid": {"strategy": ["dfs-recall"]}, "repeats": 4},
    "settings": {},
}


@pytest.mark.skipif(platform.system() != "Linux", reason="manylinux wheels run on Linux")
def test_the_worker_artifact_runs_a_shard_on_its_own(tmp_path: Path) -> None:
    # GIVEN the worker artifact built for this machine (the same recipe, another platform tag)
    here = f"{platform.machine()}-manylinux_2_28"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    artifact = packaging.build("worker", ROOT, tmp_path / "out", platform=here, python=python)
    site = tmp_path / "site"
    zipfile.ZipFile(artifact.path).extractall(site)
    # WHEN an isolated interpreter (no site-packages, no repo), which may not write bytecode (-B; /var/task is
    # read-only), runs the handler from it
    script = f"{RUN_WORKER_HANDLER}\n{WITHOUT_BYTECODE}\nprint(json.dumps(without_bytecode(sys.argv[1])))"
    env = {"SWEEP_STORE": str(tmp_path / "results"), "PATH": "/usr/bin:/bin", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", script, str(site), json.dumps(SHARD)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    # THEN the shard runs: four points, Parquet written by the artifact's own pyarrow
    assert result.returncode == 0, result.stderr
    *_, answer, compiled_at_start = result.stdout.strip().splitlines()
    outcome = json.loads(answer)
    assert (outcome["status"], outcome["points_ok"]) == ("success", 4)
    assert len(list((tmp_path / "results" / "points" / "run_id=artifact-1").glob("shard=00000-*.parquet"))) == 1
    # AND every module it imported, to its first Parquet file, came from the artifact's bytecode
    assert artifact.compiled
    assert json.loads(compiled_at_start) == []
