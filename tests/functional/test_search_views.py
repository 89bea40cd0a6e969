"""What `sweep plan` and `sweep report` show of a search (issue 25): rounds, trials per round and
the worst-case cost on a stage; the history, the best setting and importances in one HTML page
where nothing an experiment wrote is markup."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from sweep_cli.main import app

runner = CliRunner()

PLAN = """
experiment: synthetic
run_id: search-plan
config: {noise: 0.0}
search:
  space: {x: {uniform: [-1, 1]}, echo: {choice: [a, b]}}
  budget: {trials: 10}
  batch: 4
  average_over: {seed: [0, 1, 2]}
repeats: 1
"""

HOSTILE = """
experiment: synthetic
run_id: search-hostile
config: {noise: 0.0}
search:
  space: {x: {uniform: [-1, 1]}, echo: {choice: ["<script>alert(1)</script>", "</td><b>bold"]}}
  objective: {metric: value, direction: max}
  budget: {trials: 4}
  batch: 4
"""


def test_plan_shows_rounds_trials_points_and_the_worst_case_cost_on_a_stage(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    path.write_text(PLAN)
    result = runner.invoke(app, ["plan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert [(r["round"], r["trials"], r["points"], r["shards"]) for r in plan["rounds"]] == [
        (1, 4, 12, 4),
        (2, 4, 12, 4),
        (3, 2, 6, 2),
    ]
    assert (plan["points_per_trial"], plan["points_total"], plan["objective"]) == (
        3,
        30,
        {"metric": "value", "direction": "max"},
    )
    result = runner.invoke(app, ["plan", str(path), "--stage", "dev", "--json"])
    assert result.exit_code == 0, result.output
    staged = json.loads(result.output)
    assert staged["worst_case_cost_usd"] == sum(r["cost_usd"] for r in staged["rounds"]) > 0


def test_plan_refuses_an_axis_averaged_over_that_is_no_nuisance_axis(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    path.write_text(PLAN.replace("average_over: {seed: [0, 1, 2]}", "average_over: {y: [0, 1]}"))
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2
    assert "`search.average_over.y`: `y` is not a nuisance axis of experiment `synthetic`." in result.output


def test_the_report_shows_history_best_and_importances_and_escapes_experiment_text(tmp_path: Path) -> None:
    path, out = tmp_path / "search.yaml", tmp_path / "out"
    path.write_text(HOSTILE)
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "-w", "2", "-q"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", "search-hostile", "--out", str(out), "--no-open"])
    assert result.exit_code == 0, result.output
    page = (out / "report-search-hostile.html").read_text()
    for heading in ("Best setting", "Parameter importances", "Optimisation history"):
        assert f"<h2>{heading}</h2>" in page
    assert "data-kind='history'" in page
    assert "<script" not in page
    assert "<b>" not in page
    assert "&lt;script&gt;" in page
    assert len(re.findall(r"<tr><td>\d+</td><td>1</td>", page)) == 4  # four trials of round 1
    # the history figure: one dot per told trial and the best-so-far steps, its labels as text
    dots = re.search(r'<path id="sw-trials" d="([^"]*)"', page)
    assert dots is not None
    assert dots[1].count("M") == 4
    assert '<path id="sw-best"' in page
    assert ">trial</text>" in page


def test_the_search_examples_plan() -> None:
    root = Path(__file__).resolve().parents[2]
    for name, trials in (("search-synthetic.yaml", 48), ("search-llm.yaml", 16)):
        result = runner.invoke(app, ["plan", str(root / "examples" / name), "--json"])
        assert result.exit_code == 0, result.output
        assert sum(r["trials"] for r in json.loads(result.output)["rounds"]) == trials


def test_a_searched_axis_the_experiment_does_not_take_is_named_as_the_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "search.yaml"
    path.write_text(PLAN.replace("echo: {choice: [a, b]}", "kind: {choice: [a, b]}"))
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith(
        "error: `search.space.kind`: `kind` is not a known field (known fields: x, y, noise, fail_rate, sleep_ms, "
        "work, crash, echo, seed) (experiment `synthetic`).\n  hint: see the `synthetic` config fields"
    ), result.output
    assert "grids[" not in result.output
