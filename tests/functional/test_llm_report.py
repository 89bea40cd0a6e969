"""`sweep report` shows, per option value, score, latency p50/p90, tokens/s and errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_cli.report.llm import COLUMNS, per_option
from sweep_cli.report.page import write_report
from sweep_cli.results.query import ResultsDB
from sweep_contracts.storage import LocalStore
from sweep_orchestrator.submit import load_manifest
from tests.llm_fake import FakeModelServer, Fault
from tests.llm_helpers import run_llm


def test_the_report_compares_option_values(tmp_path: Path) -> None:
    # GIVEN two temperatures x 4 items, where the server refuses every call at temperature 1.0
    def refuse_hot(body: dict[str, object], seen: int) -> Fault | None:
        hot = body["options"]["temperature"] == 1.0  # type: ignore[index]
        return Fault(400, json.dumps({"error": "invalid option"}).encode()) if hot else None

    store = LocalStore(tmp_path / "out")
    with FakeModelServer(behave=refuse_hot, delay_s=0.02).running() as server:
        payload = {
            "experiment": "ollama",
            "run_id": "report-llm",
            "config": {"endpoint": server.url, "model": "m"},
            "grid": {"temperature": [0.0, 1.0], "task_index": [0, 1, 2, 3]},
        }
        run_llm(payload, store)
    # WHEN the per-option table is computed and the report written
    db = ResultsDB(tmp_path / "out", "report-llm")
    try:
        ((series, axis, result),) = per_option(db, load_manifest(store, "report-llm"), "score")
    finally:
        db.close()
    path = write_report(tmp_path / "out", "report-llm", tmp_path / "report.html", [])
    # THEN each temperature has its points, errors, score and latency percentiles (task_index is not an option)
    assert (series, axis) == ("grid", "temperature")
    cold, hot = result.rows
    assert cold[:4] == ("0.0", 4, 0, 1.0)
    assert cold[4] >= 20
    assert cold[5] >= cold[4]
    assert hot[:3] == ("1.0", 4, 4)
    assert "latency p90 ms" in path.read_text()


def test_sweep_run_summarises_per_option_value_like_the_report(tmp_path: Path) -> None:
    # GIVEN an ollama sweep over two temperatures, the hot one refused by the server
    def refuse_hot(body: dict[str, object], seen: int) -> Fault | None:
        hot = body["options"]["temperature"] == 1.0  # type: ignore[index]
        return Fault(400, json.dumps({"error": "invalid option"}).encode()) if hot else None

    with FakeModelServer(behave=refuse_hot, delay_s=0.01).running() as server:
        sweep = {
            "experiment": "ollama",
            "run_id": "summary-llm",
            "config": {"endpoint": server.url, "model": "m"},
            "grid": {"temperature": [0.0, 1.0], "task_index": [0, 1, 2]},
        }
        path = tmp_path / "sweep.json"
        path.write_text(json.dumps(sweep))
        out = tmp_path / "out"
        # WHEN it runs through `sweep run`
        result = CliRunner().invoke(
            app, ["run", str(path), "--out", str(out), "-w", "1"], env={"COLUMNS": "200", "SWEEP_SECRET_API_KEY": ""}
        )
    # THEN the summary has the per-option table, with the figures `sweep report` computes
    assert result.exit_code == 3, result.output  # completed with errors (the hot points)
    assert "grid: temperature (score is score)" in result.output
    for column in COLUMNS:
        assert column in result.output
    db = ResultsDB(out, "summary-llm")
    try:
        ((_, _, expected),) = per_option(db, load_manifest(LocalStore(out), "summary-llm"), "score")
    finally:
        db.close()
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in result.output.splitlines() if "│" in line]
    shown = [row[:3] for row in cells if len(row) == len(COLUMNS) and row[0] in ("0.0", "1.0")]
    assert shown == [[str(value) for value in row[:3]] for row in expected.rows]
    assert expected.rows[1][:3] == ("1.0", 3, 3)
