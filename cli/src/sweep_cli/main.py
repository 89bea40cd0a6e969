"""The `sweep` command: the application with every command group registered, and its entry point."""

from __future__ import annotations

import sys

from sweep_cli import params_set, render
from sweep_cli.app import EXIT_INTERRUPTED, app
from sweep_cli.commands import compare, describe, execute, read, trial
from sweep_cli.params import app as params_app

__all__ = ["app", "main"]
# imported for their commands, which register on `app` (params_set: on `sweep params`)
COMMAND_GROUPS = (execute, read, describe, trial, compare, params_set)
app.add_typer(params_app, name="params")


def main() -> None:
    render.route_plugin_warnings()
    try:
        app()
    except KeyboardInterrupt:
        render.err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
