"""`sweep report` as a user types it: interactions, heatmaps and spread for grids of several axes,
intervals within the metric's range, and `report RUN_A RUN_B` overlays (issue 12). The pages in
a real browser: `test_report_browser.py`."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_cli.report.data import cells, metric_ranges
from sweep_cli.report.intervals import t975
from sweep_cli.results.query import ResultsDB
from sweep_contracts.storage import LocalStore
from tests.helpers import run_sweep

runner = CliRunner()

SYNTHETIC: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": "grid-xy",
    "config": {"noise": 0.3},
    "grid": {"x": [0.0, 0.3, 0.6], "y": [-0.2, 0.2], "seed": [1, 2]},
}


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def kinds(page: str) -> list[str]:
    return re.findall(r"<figure class='plot' data-kind='(\w+)'>", page)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    run_sweep(SYNTHETIC, LocalStore(tmp_path / "out"))
    return tmp_path / "out"


def test_a_grid_of_axes_gets_interaction_heatmap_and_the_seed_as_spread(out: Path) -> None:
    # GIVEN a grid x × y with a swept seed (replicates, not a factor)
    # WHEN the user writes its report
    code, stdout, _ = invoke("report", "grid-xy", "--out", str(out), "--no-open", "-m", "value")
    # THEN each axis has its figure, the pair x × y an interaction plot and a heatmap, the seeds a spread
    assert (code, stdout) == (0, f"report written to {out / 'report-grid-xy.html'}\n")
    page = (out / "report-grid-xy.html").read_text()
    assert kinds(page) == ["axis", "axis", "axis", "interaction", "heatmap", "spread"]
    assert "metrics against <code>x</code>, one line per value of <code>y</code>" in page
    assert "over <code>x</code> × <code>y</code>" in page
    # x has 3 values, y 2: the line per y has an entry per x; the heatmap 6 cells, each annotated
    assert page.count('id="sw-line-f4-0-') == 2
    assert re.search(r'<g id="sw-cell-f5-0"', page)
    # the spread: one box per (x, y) combination, its seeds the dots
    assert page.count('id="sw-box-f6-0-') == 6
    assert "x=0.0, y=-0.2" in page
    assert not re.search(r"<script|<link|\ssrc=|url\((?!#)", page)


def test_intervals_in_the_report_stay_within_the_metrics_range(tmp_path: Path) -> None:
    # GIVEN a maze run whose `solved` is 0 or 1 and `efficiency` a fraction, with two repeats per point
    store = LocalStore(tmp_path / "out")
    payload = {
        "experiment": "maze",
        "run_id": "bounded",
        "config": {"max_moves": 60},
        "grid": {"size": [5, 9], "strategy": ["random-walk", "wall-follower"]},
        "repeats": 3,
    }
    run_sweep(payload, store)
    db = ResultsDB(tmp_path / "out", "bounded")
    try:
        bounds = metric_ranges([db], ["solved", "efficiency"])
        found = cells(db, ["size", "strategy"], ["solved", "efficiency"], bounds)
        raw = db.query(
            "SELECT count(*), avg(metrics['efficiency']), stddev_samp(metrics['efficiency']), "
            "avg(metrics['solved']), stddev_samp(metrics['solved']) "
            "FROM points WHERE status = 'ok' GROUP BY params['size'], params['strategy']"
        ).rows
    finally:
        db.close()
    assert bounds["solved"].binary
    assert not bounds["efficiency"].binary
    # the textbook mean ± t·se leaves the range somewhere: the check below can fail
    naive = [
        (m - t975(n - 1) * (sd or 0) / math.sqrt(n), m + t975(n - 1) * (sd or 0) / math.sqrt(n))
        for n, *stats in raw
        for m, sd in (stats[:2], stats[2:])
    ]
    assert any(low < 0 or high > 1 for low, high in naive)
    # THEN every interval of the report lies within what the metric can be
    assert len(found) == 4
    for estimates in found.values():
        solved, efficiency = estimates["solved"], estimates["efficiency"]
        assert 0.0 <= solved.low <= solved.mean <= solved.high <= 1.0
        assert bounds["efficiency"].low <= efficiency.low <= efficiency.mean <= efficiency.high
        assert efficiency.high <= bounds["efficiency"].high


def test_report_of_two_runs_overlays_them(out: Path) -> None:
    # GIVEN a second run of the sweep with other config
    run_sweep({**SYNTHETIC, "run_id": "grid-xy-2", "config": {"noise": 0.0}}, LocalStore(out))
    # WHEN the user names both runs
    code, stdout, _ = invoke("report", "grid-xy", "grid-xy-2", "--out", str(out), "--no-open")
    # THEN one page overlays them: per shared axis (not the seed), one line per run in each metric's panel
    path = out / "report-grid-xy-vs-grid-xy-2.html"
    assert (code, stdout) == (0, f"report written to {path}\n")
    page = path.read_text()
    assert kinds(page) == ["overlay", "overlay"]
    assert "<h1>Runs grid-xy, grid-xy-2</h1>" in page
    assert "<h2>Shared points — value: a = grid-xy, b = grid-xy-2</h2>" in page
    metrics = 3  # value, distance, checksum
    assert len(re.findall(r'id="sw-line-f1-\d-\d"', page)) == 2 * metrics
    # the legend names the runs, as text (matplotlib drew text as paths, each after a comment
    # `<!-- grid-xy -->`: the page now holds the text itself, issue 23)
    assert (">grid-xy</text>" in page, ">grid-xy-2</text>" in page) == (True, True)


def test_report_with_output_and_metric_for_two_runs(out: Path, tmp_path: Path) -> None:
    run_sweep({**SYNTHETIC, "run_id": "grid-xy-2"}, LocalStore(out))
    target = tmp_path / "pages" / "both.html"
    code, stdout, _ = invoke(
        "report", "grid-xy", "grid-xy-2", "--out", str(out), "--no-open", "--output", str(target), "-m", "distance"
    )
    assert (code, stdout) == (0, f"report written to {target}\n")
    page = target.read_text()
    assert "Shared points — distance" in page
    assert len(re.findall(r'id="sw-line-f1-\d-\d"', page)) == 2  # one metric panel, two runs


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (
            "grid-xy",
            "error: a run is named twice.",
        ),
        (
            "other-axes",
            "error: runs grid-xy, other-axes share no swept axis.",
        ),
    ],
)
def test_report_of_runs_that_cannot_be_overlaid_says_why(out: Path, second: str, message: str) -> None:
    run_sweep(
        {"experiment": "synthetic", "run_id": "other-axes", "config": {"x": 0.1}, "grid": {"noise": [0.1]}},
        LocalStore(out),
    )
    code, stdout, stderr = invoke("report", "grid-xy", second, "--out", str(out), "--no-open")
    assert code == 2
    assert stdout == ""
    assert stderr.startswith(message)
    assert "Traceback" not in stderr


def test_report_of_two_runs_names_a_metric_one_did_not_record(out: Path) -> None:
    run_sweep({**SYNTHETIC, "run_id": "grid-xy-2"}, LocalStore(out))
    code, _, stderr = invoke("report", "grid-xy", "grid-xy-2", "--out", str(out), "--no-open", "-m", "solved")
    assert code == 2
    assert stderr.startswith("error: metric `solved` was not recorded in run `grid-xy`.")
    assert "recorded metrics: checksum, distance, value." in stderr


def test_a_metric_that_is_0_everywhere_is_no_proportion(out: Path) -> None:
    # GIVEN synthetic's `checksum`, 0 at every point without `work`
    db = ResultsDB(out, "grid-xy")
    try:
        bounds = metric_ranges([db], ["checksum"])
        (estimates,) = list(cells(db, ["x"], ["checksum"], bounds).values())[:1]
    finally:
        db.close()
    # THEN it gets no Wilson interval up to 0.4 (it would, were 0/1 alone enough), but the point 0
    assert bounds["checksum"].binary is False
    assert (estimates["checksum"].low, estimates["checksum"].high) == (0.0, 0.0)


@pytest.mark.slow
def test_two_axes_of_many_values_get_a_heatmap_not_a_tangle_of_lines(tmp_path: Path) -> None:
    # GIVEN a grid of 11 × 11 values
    values = [round(0.1 * i, 1) for i in range(11)]
    payload = {
        "experiment": "synthetic",
        "run_id": "fine-grid",
        "config": {"noise": 0.0},
        "grid": {"x": values, "y": values},
    }
    run_sweep(payload, LocalStore(tmp_path / "out"))
    # WHEN the user writes its report
    code, _, _ = invoke("report", "fine-grid", "--out", str(tmp_path / "out"), "--no-open", "-m", "value")
    # THEN the pair gets a heatmap, and the page says why there are no lines
    page = (tmp_path / "out" / "report-fine-grid.html").read_text()
    assert code == 0
    assert kinds(page) == ["axis", "axis", "heatmap"]
    assert "both have more than 10 values; see the heatmap." in page
