"""`sweep report` in a real headless Chromium: every plot and table is there and drawn, nothing is
fetched, no script error (issue 12). Skipped without Chromium; `.ci/run` installs it and fails
instead of skipping (`SWEEP_REQUIRE_BROWSER`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_contracts.storage import LocalStore
from tests.browser import Rendered, find_chromium, render
from tests.helpers import run_sweep
from tests.report_runs import write_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

runner = CliRunner()

# two axes of two values, three repeats: 4 combinations × 3 = 12 points per run
MAZE = {
    "experiment": "maze",
    "run_id": "browser-a",
    "config": {"max_moves": 300},
    "grid": {"size": [5, 9], "strategy": ["wall-follower", "random-walk"]},
    "repeats": 3,
}
METRICS = ("solved", "moves")


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of one sweep, the second with fewer moves allowed (run in-process: the pool is tested elsewhere)."""
    results = tmp_path_factory.mktemp("browser") / "out"
    run_sweep(MAZE, LocalStore(results))
    run_sweep({**MAZE, "run_id": "browser-b", "config": {"max_moves": 40}}, LocalStore(results))
    return results


def assert_drawn(page: Rendered) -> None:
    """Every figure has one SVG with a size, every mark a non-empty box; nothing fetched; no error."""
    assert page.figures
    for figure in page.figures:
        assert (figure["svgs"], figure["width"] > 100, figure["height"] > 100) == (1, True, True), figure
        for kind, marks in figure["marks"].items():
            assert marks["drawn"] == marks["count"], (kind, figure)
    for table in page.tables:
        assert (table["visible"], table["rows"] >= 2) == (True, True), table  # a header and at least one row
    assert page.resources == []
    assert page.console_errors == []


def metric_marks(figure: dict[str, object], kind: str) -> int:
    marks = figure["marks"]
    assert isinstance(marks, dict)
    return int(marks.get(kind, {"count": 0})["count"])


def test_the_report_of_a_two_axis_grid_renders_every_plot_and_table(out: Path, chromium: str) -> None:
    # WHEN the user writes the report of one run, two metrics
    stdout = invoke("report", "browser-a", "--out", str(out), "--no-open", "-m", "solved", "-m", "moves")
    assert stdout == f"report written to {out / 'report-browser-a.html'}\n"
    # AND it is opened in a browser
    page = render(chromium, out / "report-browser-a.html")
    # THEN every figure and table is drawn, offline, without errors
    assert page.title == "sweep report browser-a"
    assert_drawn(page)
    kinds = [f["kind"] for f in page.figures]
    assert kinds == ["axis", "axis", "interaction", "heatmap", "spread"]
    # each axis averaged over the other: one line per metric panel
    for figure in page.of_kind("axis"):
        assert metric_marks(figure, "line") == len(METRICS)
    # the interaction plot: one line per strategy in each metric's panel
    (interaction,) = page.of_kind("interaction")
    assert "one line per value of strategy" in interaction["caption"]
    assert metric_marks(interaction, "line") == 2 * len(METRICS)
    # the heatmap: 2 sizes × 2 strategies cells per metric
    (heatmap,) = page.of_kind("heatmap")
    assert heatmap["cells"] == [4] * len(METRICS)
    # the repeats: a box and dots per combination, per metric
    (spread,) = page.of_kind("spread")
    assert metric_marks(spread, "box") == metric_marks(spread, "dots") == 4 * len(METRICS)
    # the tables: the run's facts, the summary (one series), settings
    headings = [t["heading"] for t in page.tables]
    assert headings[:2] == ["Run browser-a", "Summary — efficiency (max)"]
    assert page.tables[1]["rows"] == 2
    assert headings[-1] == "Settings"


def test_two_runs_overlaid_render_one_line_per_run(out: Path, chromium: str) -> None:
    # WHEN the user overlays the two runs
    stdout = invoke("report", "browser-a", "browser-b", "--out", str(out), "--no-open", "-m", "solved", "-m", "moves")
    path = out / "report-browser-a-vs-browser-b.html"
    assert stdout == f"report written to {path}\n"
    page = render(chromium, path)
    # THEN each shared axis has a figure with one line per run in every metric's panel
    assert_drawn(page)
    assert [f["kind"] for f in page.figures] == ["overlay", "overlay"]
    assert [f["caption"].split(",")[0] for f in page.figures] == ["metrics against size", "metrics against strategy"]
    for figure in page.figures:
        assert metric_marks(figure, "line") == 2 * len(METRICS)
    # AND the runs and their shared points are tables: 2 runs; 4 shared points
    assert [(t["heading"], t["rows"]) for t in page.tables] == [
        ("Runs browser-a, browser-b", 3),
        ("Shared points — solved: a = browser-a, b = browser-b", 5),  # the first --metric
    ]


def test_the_probe_sees_a_missing_plot_a_fetch_and_a_script_error(out: Path, chromium: str, tmp_path: Path) -> None:
    # GIVEN a report whose heatmap lost its SVG, that loads a script from a CDN and raises
    page = (out / "report-browser-a.html").read_text()
    start = page.index("<figure class='plot' data-kind='heatmap'>")
    svg_start = page.index("<svg", start)
    svg_end = page.index("</svg>", svg_start) + len("</svg>")
    broken = page[:svg_start] + page[svg_end:]
    broken = broken.replace(
        "</body>", "<script src='https://cdn.example.com/plot.js'></script><script>draw()</script></body>"
    )
    path = tmp_path / "broken.html"
    path.write_text(broken)
    # WHEN it is rendered
    rendered = render(chromium, path)
    # THEN the checks of the tests above would fail on it
    (heatmap,) = rendered.of_kind("heatmap")
    assert (heatmap["svgs"], heatmap["cells"]) == (0, [])
    assert rendered.resources == ["https://cdn.example.com/plot.js"]
    assert "failed to load https://cdn.example.com/plot.js" in rendered.console_errors
    assert any("draw is not defined" in e for e in rendered.console_errors)


def test_a_report_of_long_values_renders_every_plot_issue23(chromium: str, tmp_path: Path) -> None:
    # GIVEN a run whose values are 10,000 characters long (old: labels drawn glyph by glyph, a page
    # of megabytes that Chromium needed 35 s for)
    long = [chr(ord("a") + i) * 10_000 for i in range(5)]
    payload = {
        "experiment": "synthetic",
        "run_id": "long",
        "config": {"noise": 0.0},
        "grid": {"echo": long, "x": [0.0, 0.5]},
        "repeats": 3,
    }
    write_run(tmp_path, payload, lambda i, _: {"value": float(i % 5), "distance": 1.0})
    # WHEN its report is written and opened
    stdout = invoke("report", "long", "--out", str(tmp_path), "--no-open")
    assert stdout == f"report written to {tmp_path / 'report-long.html'}\n"
    page = render(chromium, tmp_path / "report-long.html", timeout_s=30)
    # THEN every figure is drawn, and the shortened values are a table with each value once
    assert_drawn(page)
    assert [f["kind"] for f in page.figures] == ["axis", "axis", "interaction", "heatmap", "spread"]
    (spread,) = page.of_kind("spread")
    assert metric_marks(spread, "box") == 10 * 2  # 5 values × 2 x, per metric
    assert page.tables[-2]["heading"] == "Values shortened in the figures"
