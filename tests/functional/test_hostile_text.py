"""Text that came from an experiment, a sweep file or a store never reaches the terminal raw
(issue 20, item 11): escape sequences (OSC 52 clipboard writes, clear-screen, OSC 8 links), C1 and
bidi controls are shown as visible escapes, rich markup in data is shown as text (never a style, a
link or a `MarkupError`), and mathtext in a plot label is drawn as text.

Everything runs through the real `sweep` command, with a real experiment plugin (a distribution on
`PYTHONPATH`, as `test_broken_plugins` builds them) whose values, metric names, output, log and
errors hold the attacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import install_plugin

SWEEP = str(Path(sys.executable).with_name("sweep"))

ATTACK = (
    "\x1b]52;c;SGFja2Vk\x07"  # OSC 52: write the clipboard
    "\x1b[2J\x1b[H"  # clear the screen
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    " [/INST] [/] [bold red]FAKE SUCCESS[/bold red] [link=https://evil.example]link[/link]"
    " $\\frac{1}{$ \u202eevil\u202c \x9b31m \x7f"
)
"""Every attack at once: each must arrive as readable text."""

PLUGIN = f"""
from pydantic import BaseModel
from sweep_contracts.experiments import Evaluation, Experiment, Objective

ATTACK = {ATTACK!r}


class Config(BaseModel):
    label: str = "plain"
    fail: bool = False


def run(config: Config) -> Evaluation:
    print(ATTACK)  # the point's log
    if config.fail:
        raise ValueError(ATTACK)
    return Evaluation(metrics={{"score": 1.0, ATTACK: 2.0}}, output=ATTACK)


EXPERIMENT = Experiment(
    name="hostile", config_model=Config, run=run, objective=Objective("score"), metrics=("score", ATTACK)
)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_plugin(tmp_path_factory.mktemp("site"), "hostile_plugin", PLUGIN, "hostile")


def sweep(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    return subprocess.run(  # noqa: PLW1510 - the caller judges the return code
        [SWEEP, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


@pytest.fixture(scope="module")
def ran(site: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    cwd = tmp_path_factory.mktemp("work")
    sweep_file = {
        "experiment": "hostile",
        "run_id": "hostile-run",
        "description": ATTACK,
        "config": {"label": "plain"},
        "grid": {"label": [ATTACK, "plain"], "fail": [False, True]},
    }
    (cwd / "hostile.json").write_text(json.dumps(sweep_file))
    return cwd, sweep(site, cwd, "run", "hostile.json", "--out", "out", "-w", "1")


def assert_shown_safely(result: subprocess.CompletedProcess[str], code: int) -> None:
    """No byte of an attack reached the terminal raw, no traceback, the usual exit code, and the
    attack is still there to read: its controls as escapes, its markup as the text it is."""
    both = result.stdout + result.stderr
    assert result.returncode == code, both[-3000:]
    assert "Traceback" not in both, both[-3000:]
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\x7f"):
        assert raw not in both, (raw, both[-3000:])
    assert "\\x1b]52;c;SGFja2Vk\\x07" in both  # the clipboard write, readable and inert
    assert "\\u202eevil" in both


def assert_markup_is_text(text: str) -> None:
    # markup would have been taken (a style, a link) or refused (`[/]`): here it is shown as written
    assert "[bold red]FAKE SUCCESS[/bold red]" in text
    assert "[link=https://evil.example]link[/link]" in text
    assert "[/INST] [/]" in text


def test_run_shows_hostile_values_metrics_and_errors_as_text(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    # GIVEN a sweep whose values, metric names and errors hold escape sequences and markup
    # WHEN it runs (two points fail with the attack as their message)
    _, result = ran
    # THEN it finishes as a run with point errors does (exit 3), showing every attack as text
    assert_shown_safely(result, 3)
    assert_markup_is_text(result.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ("logs", "hostile-run"),
        ("logs", "hostile-run", "--point", "0"),
        ("results", "hostile-run"),
        ("results", "hostile-run", "--sql", "SELECT * FROM points"),
        ("results", "hostile-run", "--sql", "SELECT * FROM points", "--format", "csv"),
        ("results", "hostile-run", "--sql", "SELECT * FROM points", "--format", "json"),
        ("status", "hostile-run"),
        ("runs",),
    ],
)
def test_reading_a_hostile_run_shows_its_text_safely(
    site: Path, ran: tuple[Path, subprocess.CompletedProcess[str]], args: tuple[str, ...]
) -> None:
    # GIVEN the run with hostile text in its store
    cwd, _ = ran
    # WHEN a command reads it
    result = sweep(site, cwd, *args, "--out", "out")
    # THEN the command answers as usual, every attack inert and readable
    code = 3 if args[0] == "status" else 0
    both = result.stdout + result.stderr
    assert result.returncode == code, both[-3000:]
    # a crash of the command is a traceback on stderr (`logs` shows the point's own on stdout)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "MarkupError" not in both
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\x7f"):
        assert raw not in both, (raw, args, both[-3000:])
    if "json" in args:
        assert "\\u001b" in both  # JSON's own escape
    elif args[0] != "status":
        assert "\\x1b" in both  # shown, as an escape
    if args[0] == "logs" or "--format" not in args:
        assert "FAKE SUCCESS" not in both or "[bold red]FAKE SUCCESS[/bold red]" in both


def test_a_sql_error_quoting_hostile_text_is_one_safe_paragraph(
    site: Path, ran: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    # GIVEN SQL that names a column that does not exist, with markup and an escape in its name
    cwd, _ = ran
    # WHEN it runs
    result = sweep(site, cwd, "results", "hostile-run", "--out", "out", "--sql", 'SELECT "[/]\x1b[2J" FROM points')
    # THEN DuckDB's message quoting it is shown as text: exit 1, no traceback, no raw escape
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "\x1b" not in result.stderr
    assert "[/]\\x1b[2J" in result.stderr


def test_report_draws_mathtext_in_values_and_metric_names_as_text(
    site: Path, ran: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    # GIVEN the run whose parameter values and a metric name hold `$\frac{1}{$` (broken mathtext)
    cwd, _ = ran
    # WHEN its report is written
    result = sweep(site, cwd, "report", "hostile-run", "--out", "out", "--no-open")
    # THEN it is written (no mathtext error), with no raw escape on the terminal
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    html = (cwd / "out" / "report-hostile-run.html").read_text()
    assert "$\\frac{1}{$" in html  # the metric's name, as text
    assert "[bold red]FAKE SUCCESS[/bold red]" in html


def test_experiments_plan_and_try_show_hostile_text_safely(
    site: Path, ran: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    # GIVEN the plugin whose metric names are the attack, and the sweep file whose values are
    cwd, _ = ran
    # WHEN it is described, the sweep planned, and a failing point tried here
    described = sweep(site, cwd, "experiments", "hostile")
    planned = sweep(site, cwd, "plan", "hostile.json")
    tried = sweep(site, cwd, "try", "hostile.json", "--point", "3")
    # THEN each answers as usual with the attack as text (`try` lets the point's own prints through
    # untouched, on stdout, by design: the traceback sweep prints on stderr is shown safely)
    assert_shown_safely(described, 0)
    assert_markup_is_text(described.stdout)
    assert (planned.returncode, planned.stderr) == (0, "")
    assert "\x1b" not in planned.stdout
    assert "\\u001b]52;c;SGFja2Vk\\u0007" in planned.stdout  # the config as JSON: its escapes
    assert "[/INST] [/]" in planned.stdout
    assert "[link=https://evil.example]link[/link]" in planned.stdout
    assert tried.returncode == 3, tried.stderr[-3000:]
    assert "\x1b" not in tried.stderr
    assert "ValueError: \\x1b]52;c;SGFja2Vk\\x07" in tried.stderr


def test_a_rerun_names_a_changed_plugin_version_as_text(site: Path, tmp_path: Path) -> None:
    # GIVEN a run of a plugin whose recorded version holds markup, and the plugin since upgraded
    info = tmp_path / "site" / "hostile_plugin-1.0.dist-info"
    info.parent.mkdir()
    (info.parent / "hostile_plugin.py").write_text((site / "hostile_plugin.py").read_text())
    info.mkdir()
    (info / "entry_points.txt").write_text("[sweep.experiments]\nhostile = hostile_plugin:EXPERIMENT\n")
    sweep_file = {"experiment": "hostile", "run_id": "rerun", "config": {"label": "plain"}}
    (tmp_path / "rerun.json").write_text(json.dumps(sweep_file))
    for version in ("1.0[/]", "2.0[/INST]\x1b[2J"):
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: hostile-plugin\nVersion: {version}\n")
        # WHEN the same file runs again
        result = sweep(info.parent, tmp_path, "run", "rerun.json", "--out", "out", "-q")
    # THEN the existing run is shown, naming both versions as text
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "\x1b" not in result.stderr
    assert "the code changed since it ran" in result.stderr
    assert '"hostile-plugin 1.0[/]" → "hostile-plugin 2.0[/INST]\\u001b[2J"' in result.stderr
