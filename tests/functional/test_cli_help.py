"""`sweep --help` and a bare `sweep`: every command with its whole summary, drawn without typer's
rich renderer (issue 13: the first thing a new user types, < 250 ms)."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from sweep_cli.help import first_paragraph
from sweep_cli.main import app

runner = CliRunner()


@pytest.mark.parametrize("args", [["--help"], []])
def test_the_help_lists_every_command_with_its_whole_summary(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a terminal wide enough for one line per summary
    monkeypatch.setenv("TERMINAL_WIDTH", "400")
    # WHEN the user asks for help, or types `sweep` alone
    result = runner.invoke(app, args)
    # THEN it exits as before (0 for --help, 2 for no command), with the usage and both panels
    assert result.exit_code == (0 if args else 2)
    lines = result.output.splitlines()
    assert any("Usage: sweep [OPTIONS] COMMAND [ARGS]..." in line for line in lines)
    assert any("--version" in line and "Print sweep's version and exit." in line for line in lines)
    # AND every visible command appears once, with its help's first paragraph on one line
    group = typer.main.get_group(app)
    ctx = group.make_context("sweep", ["--help"], resilient_parsing=True)
    commands = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    shown = {name: command for name, command in commands.items() if command is not None and not command.hidden}
    assert len(shown) >= 14
    for name, command in shown.items():
        summary = first_paragraph(command.help)
        assert [line for line in lines if f" {name} " in line and summary in line], (name, summary)


def test_a_summary_is_its_first_paragraph_on_one_line() -> None:
    text = "Write a report: each metric,\n    interactions and heatmaps.\n\n    More detail here."
    assert first_paragraph(text) == "Write a report: each metric, interactions and heatmaps."
    assert first_paragraph(None) == ""
