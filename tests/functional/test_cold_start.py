"""Cold start: what importing an entry point pulls in. Every worker of a fan-out pays its imports
before its first point, so the heavy libraries a shard may not need are imported when it needs them.

The check is on `sys.modules` in a fresh interpreter, never on a time: timings on a shared machine
are for bench/coldstart.py."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.artifact_scripts import WITHOUT_BYTECODE

pytestmark = pytest.mark.slow  # each test starts a fresh interpreter: not in `make test-fast`

HEAVY = ("boto3", "pyarrow", "pandas", "duckdb")
ROOT = Path(__file__).resolve().parents[2]


# What `sweep --help` must not pay for: the models (pydantic, and the contracts built on it), the engine
# (orchestrator, worker), the query engine, the AWS SDK, Arrow, and the YAML parser
NOT_FOR_HELP = (
    *HEAVY,
    "botocore",
    "pydantic",
    "yaml",
    "sweep_contracts.experiments",
    "sweep_contracts.manifest",
    "sweep_contracts.points",
    "sweep_contracts.request",
    "sweep_contracts.settings",
    "sweep_contracts.tasks",
    "sweep_orchestrator",
    "sweep_worker",
    # typer's help renderer: its top imports rich's Markdown and pretty tracebacks (~90 ms)
    "typer.rich_utils",
    "rich.markdown",
)
HELP = (
    "import sys\nsys.argv = ['sweep', '--help']\n"
    "try:\n    from sweep_cli.launch import main\n    main()\nexcept SystemExit:\n    pass"
)


def modules_after_import(statement: str, names: tuple[str, ...] = HEAVY) -> set[str]:
    """Which of `names` are present after `statement` runs in a new interpreter."""
    probe = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    return {name for name in names if name in loaded}


def test_importing_the_worker_handler_leaves_boto3_and_pyarrow_for_later() -> None:
    # GIVEN a fresh interpreter
    # WHEN it imports the worker's Lambda entry point
    heavy = modules_after_import("import sweep_worker.handler", (*HEAVY, "multiprocessing", "sweep_experiments"))
    # THEN neither boto3 (only an S3 store or SSM secrets need it) nor pyarrow (only writing rows) is loaded,
    # nor crash isolation's multiprocessing, nor any experiment (a task names the one it needs)
    assert heavy == set()


def test_a_local_store_shard_never_imports_boto3(tmp_path: Path) -> None:
    # GIVEN the worker's dependencies for a local store (as in a local pool process)
    statement = (
        "import os\n"
        f"os.environ['SWEEP_STORE'] = {str(tmp_path)!r}\n"
        "from sweep_worker import handler\n"
        "handler.deps_from_environment()\n"
        "from sweep_worker.sink import PointRows\n"
        "PointRows(0).to_parquet()"
    )
    # WHEN they are built and a shard writes its rows
    heavy = modules_after_import(statement)
    # THEN pyarrow is loaded for the rows, and boto3 still is not (pyarrow itself may pull in pandas
    # where it is installed, as in this workspace; the worker artifact does not ship pandas)
    assert "pyarrow" in heavy
    assert "boto3" not in heavy


def test_an_s3_store_imports_boto3_when_it_is_opened() -> None:
    # GIVEN the worker handler imported without boto3
    # WHEN an S3 store is opened
    heavy = modules_after_import("from sweep_aws.stores import open_store\nopen_store('s3://bucket/prefix')")
    # THEN boto3 is there: laziness only moved the import, it did not lose it
    assert "boto3" in heavy


def test_the_sweep_command_starts_without_duckdb_boto3_or_pyarrow() -> None:
    # GIVEN a fresh interpreter
    # WHEN it imports the `sweep` command with every command group (what `sweep --help` pays)
    heavy = modules_after_import("import sweep_cli.main")
    # THEN the query engine, the AWS SDK and pyarrow wait for the commands that use them
    assert heavy == set()


def test_sweep_help_imports_no_models_no_engine_and_no_sdk() -> None:
    # GIVEN a fresh interpreter
    # WHEN it runs `sweep --help` as the console script does
    loaded = modules_after_import(HELP, NOT_FOR_HELP)
    # THEN pydantic, the contracts' models, the orchestrator and worker, DuckDB, boto3 and pyarrow are
    # not loaded: each command imports what it uses when it runs
    assert loaded == set()


def test_sweep_help_starts_no_fork_server() -> None:
    # WHEN `sweep --help` and `sweep run --help` run as the console script does
    for args in (["--help"], ["run", "--help"], ["run", "x.yaml", "-h"]):
        statement = HELP.replace("['sweep', '--help']", repr(["sweep", *args]))
        # THEN neither starts the local pool's fork server
        assert modules_after_import(statement, ("multiprocessing.forkserver",)) == set(), args


def test_sweep_run_starts_the_fork_server_before_it_imports_the_cli(tmp_path: Path) -> None:
    # GIVEN the installed `sweep` console script, whose entry point is the launcher
    from importlib.metadata import entry_points

    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "sweep"]
    assert script.value == "sweep_cli.launch:main"
    # WHEN `sweep run` runs through it (on a file that is not there: it fails after its checks),
    # noting what was imported when the fork server was first asked for
    probe = (
        "import json, sys\n"
        "import multiprocessing.forkserver as forkserver\n"
        "first = []\n"
        "ensure_running = forkserver.ensure_running\n"
        "def noted():\n"
        "    first.append(sorted(m for m in ('sweep_cli.main', 'typer', 'pydantic') if m in sys.modules))\n"
        "    return ensure_running()\n"
        "forkserver.ensure_running = noted\n"
        f"sys.argv = ['sweep', 'run', {str(tmp_path / 'missing.yaml')!r}, '--out', {str(tmp_path)!r}]\n"
        "from sweep_cli.launch import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\n"
        "print(json.dumps([code, first[0] if first else None]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    # THEN it asked for the fork server (which loads the worker) before importing the CLI, typer or
    # pydantic, so that both load side by side; and the missing file is still a clean exit 2
    assert json.loads(done.stdout.splitlines()[-1]) == [2, []], done.stderr[-2000:]


def test_a_fork_server_that_cannot_start_early_leaves_sweep_run_to_report_it(tmp_path: Path) -> None:
    # GIVEN a machine where the fork server cannot start (e.g. no room for its socket)
    probe = (
        "import sys\n"
        "import multiprocessing.forkserver as forkserver\n"
        "def refuse():\n    raise OSError('no room for the socket')\n"
        "forkserver.ensure_running = refuse\n"
        f"sys.argv = ['sweep', 'run', {str(tmp_path / 'missing.yaml')!r}, '--out', {str(tmp_path)!r}]\n"
        "from sweep_cli.launch import main\n"
        "main()"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    # THEN the head start (the launcher's, then `sweep run`'s) is skipped without a traceback, and
    # the command goes on to its own checks (here: the missing file, exit 2)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "there is no file" in done.stderr


def test_make_install_leaves_bytecode_for_every_module_the_worker_imports() -> None:
    # GIVEN the environment `make install` made, and a process that may not write bytecode (as here, where
    # PYTHONDONTWRITEBYTECODE=1 is set): whatever it finds no pyc for, it compiles at every start
    probe = (
        "import sweep_worker.handler, sweep_cli.main\n"
        f"{WITHOUT_BYTECODE}\n"
        "import json, os\n"
        f"workspace = [n for n, m in sys.modules.items() if (getattr(m, '__file__', '') or '').startswith({str(ROOT)!r})"
        " and '.venv' not in m.__file__ and not os.path.exists(m.__cached__)]\n"
        f"print(json.dumps([without_bytecode({sysconfig.get_paths()['purelib']!r}), sorted(workspace)]))"
    )
    # WHEN a fresh interpreter imports the worker's entry point and the `sweep` command
    done = subprocess.run([sys.executable, "-B", "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    third_party, workspace = json.loads(done.stdout.splitlines()[-1])
    # THEN every installed module it imported came from a pyc that matches its source (uv's `--compile-bytecode`),
    # and every workspace module has one (compileall in `make install`; an edited one is compiled until the next)
    assert third_party == [], "run `make install`: it compiles the environment's bytecode"
    assert workspace == [], "run `make install`: it compiles the workspace sources' bytecode"


def test_a_workers_first_shard_imports_only_its_own_experiment(tmp_path: Path) -> None:
    # GIVEN a worker cold start whose task names `synthetic`, with the LLM experiments installed beside it
    statement = (
        "import json, os\n"
        f"os.environ['SWEEP_STORE'] = {str(tmp_path)!r}\n"
        "from sweep_worker import handler\n"
        "deps = handler.deps_from_environment()\n"
        "deps.registry.get('synthetic')"
    )
    # WHEN its registry hands out that experiment
    probe = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    # THEN the other experiments' modules, and the HTTP client of the LLM ones, were never imported
    assert "sweep_experiments.synthetic" in loaded
    assert {"sweep_experiments.llm_maze", "sweep_experiments.ollama", "httpx"} & loaded == set()


# An environment without pandas, like the worker artifact: pyarrow imports pandas, where it is installed,
# the first time it builds an array (and pandas imports pyarrow.compute itself)
WITHOUT_PANDAS = """
import sys

class NoPandas:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoPandas)
"""


def test_writing_a_shards_rows_leaves_pyarrow_compute_out() -> None:
    # GIVEN a worker environment without pandas, as the Lambda artifact is
    # WHEN a shard's rows are written, a row with a finish time among them, tagged with its execution
    statement = (
        f"{WITHOUT_PANDAS}\n"
        "from sweep_worker.sink import PointRows\n"
        "rows = PointRows(0)\n"
        "rows.add(point_index=0, series='s', repeat=0, params={}, metrics={'m': 1.0}, error=None,\n"
        "         duration_ms=1.0, config_json='{}', finished_at_ms=1_700_000_000_000)\n"
        "rows.execution = '0123456789abcdef-ok1-error0'\n"
        "rows.to_parquet()"
    )
    loaded = modules_after_import(statement, ("pyarrow.parquet", "pyarrow.compute", "pandas"))
    # THEN Parquet is written without pyarrow.compute (~0.1 s of a Lambda worker's first shard)
    assert loaded == {"pyarrow.parquet"}


NO_PANDAS_SHARD = """
import sys
from sweep_contracts.experiments import Registry
from sweep_contracts.storage import MemoryStore
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import tasks_for

payload = {"experiment": "synthetic", "config": {"fail_rate": 0.3}, "grid": {"x": [0.1, 0.2, 0.3], "y": [1, 2]}}
deps = WorkerDeps(store=MemoryStore(), registry=Registry.default())
assert process_event(tasks_for(payload, "no-pandas").event(0), deps)["status"] == "success"
print("pandas" in sys.modules)
"""


def test_a_shard_does_not_import_pandas() -> None:
    # GIVEN pandas installed (the CLI's dependency) WHEN a worker process runs a shard, errors included
    answer = subprocess.run(
        [sys.executable, "-c", NO_PANDAS_SHARD], capture_output=True, text=True, timeout=120, check=True
    )
    # THEN it never imported pandas
    assert answer.stdout.strip() == "False"
