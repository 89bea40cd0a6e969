"""Text with a lone surrogate never loses a shard (issue 20, item 7).

Python text can hold a lone surrogate that UTF-8 cannot carry: a model reply cut mid-pair, an error
body, a `system_fingerprint`, a file name through `os.fsdecode` (b"\\xff" becomes "\\udcff"). Every
text column is stored with such characters made visible (`\\ud800` as the six characters
backslash, u, d, 8, 0, 0), and the point's neighbours are kept: through the worker handler, and
through the local engine's `sweep run`."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow.parquet as pq
import pytest

from sweep_contracts.experiments import Registry
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.status import run_status
from sweep_worker.runner import WorkerDeps, process_event
from tests.helpers import install_plugin, tasks_for, vouched_points_key

SWEEP = str(Path(sys.executable).with_name("sweep"))

LONELY = """
import logging, os
from pydantic import BaseModel
from sweep_contracts.experiments import Evaluation, Experiment

class Config(BaseModel):
    x: int = 0
    tag: str = ""

def run(cfg):
    if cfg.x == 3:
        print(os.fsdecode(b"data-\\xff.csv"))
        logging.getLogger("lonely").warning("fingerprint fp_\\udcff")
        return Evaluation(
            metrics={"value": 3.0, "m\\ud800": 1.0}, output="42 \\ud800", call={"system_fingerprint": "fp_\\udcff"}
        )
    if cfg.x == 5:
        raise ValueError("error body \\ud800")
    return {"value": float(cfg.x)}

EXPERIMENT = Experiment(name="lonely", config_model=Config, run=run, metrics=("value",))
"""

POINTS = [{"x": i, "tag": "t\ud800" if i == 3 else "t"} for i in range(10)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_plugin(tmp_path_factory.mktemp("site"), "lonely_plugin", LONELY, "lonely")


def plugin(site: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("lonely_plugin", site / "lonely_plugin.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stored_rows(out: Path, run_id: str) -> list[dict[str, Any]]:
    store = LocalStore(out)
    key = vouched_points_key(store, run_id, 0)
    assert key is not None, "the shard's outcome vouches for no rows"
    return sorted(pq.read_table(io.BytesIO(store.get(key) or b"")).to_pylist(), key=lambda r: r["point_index"])


def assert_visible(rows: list[dict[str, Any]], *, in_params: bool = True) -> None:
    """Ten rows; the texts of points 3 and 5 hold their surrogates as visible escapes."""
    assert [(r["point_index"], r["status"]) for r in rows] == [(i, "error" if i == 5 else "ok") for i in range(10)]
    three, five = rows[3], rows[5]
    assert three["output"] == "42 \\ud800"
    # in JSON text the escape is JSON's own: a JSON reader gets the original text back
    assert three["call_json"] == '{"system_fingerprint":"fp_\\udcff"}'
    assert json.loads(three["call_json"]) == {"system_fingerprint": "fp_\udcff"}
    assert "data-\\udcff.csv\n" in three["log"]
    assert "fingerprint fp_\\udcff" in three["log"]
    if in_params:
        assert dict(three["params"])["tag"] == "t\\ud800"
        assert '"tag":"t\\ud800"' in three["config_json"]
        assert json.loads(three["config_json"])["tag"] == "t\ud800"
    assert dict(three["metrics"]) == {"value": 3.0, "m\\ud800": 1.0}
    assert (five["error_type"], five["error_message"]) == ("ValueError", "error body \\ud800")
    assert "ValueError: error body \\ud800" in five["traceback"]


def test_the_worker_handler_keeps_a_shard_whose_point_has_lone_surrogates(site: Path, tmp_path: Path) -> None:
    # GIVEN a shard of 10 points whose point 3 has a lone surrogate in every text it gives, point 5 raises one
    store = LocalStore(tmp_path / "out")
    factory = tasks_for({"experiment": "lonely", "config": {"x": 0}, "points": POINTS}, "lonely-run")
    deps = WorkerDeps(store=store, registry=Registry([plugin(site).EXPERIMENT]))
    # WHEN the worker runs it
    result = process_event(factory.event(0), deps)
    # THEN the shard succeeded with all 10 rows, the texts stored visibly
    assert (result["status"], result["points_ok"], result["points_failed"]) == ("success", 9, 1), result
    assert_visible(stored_rows(tmp_path / "out", "lonely-run"))


def test_sweep_run_keeps_a_shard_whose_point_has_lone_surrogates(site: Path, tmp_path: Path) -> None:
    # GIVEN the same sweep in a sweep file (whose reader refuses a lone surrogate in a value: the
    # parameters are plain here; a stage's JSON request can carry one, as the test above does)
    body = "\n".join(f"  - {{x: {i}, tag: t}}" for i in range(10))
    sweep = tmp_path / "lonely.yaml"
    sweep.write_text(f"experiment: lonely\nrun_id: lonely-run\nshard_size: 10\nconfig: {{x: 0}}\npoints:\n{body}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWEEP_")}
    env.update(PYTHONPATH=str(site), COLUMNS="200")
    # WHEN `sweep run` runs it on the local engine
    proc = subprocess.Popen(
        [SWEEP, "run", str(sweep), "--out", str(tmp_path / "out"), "-q", "-w", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("`sweep run` did not end within 150 s")
    # THEN the shard succeeded (exit 3: one point error), all 10 rows kept, the texts visible
    status = run_status(LocalStore(tmp_path / "out"), "lonely-run")
    assert (proc.returncode, status.shards_success, status.points_ok, status.points_error) == (3, 1, 9, 1), err
    assert_visible(stored_rows(tmp_path / "out", "lonely-run"), in_params=False)
