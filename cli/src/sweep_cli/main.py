"""The `sweep` command: the application with every command group registered, and its entry point."""

from __future__ import annotations

import signal
import sys

from sweep_cli import extras, render
from sweep_cli.app import EXIT_BAD_INPUT, EXIT_INTERRUPTED, app
from sweep_cli.commands import compare, describe, execute, read, trial
from sweep_cli.stage import params_set
from sweep_cli.stage.params import app as params_app

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
        _finish_quietly()
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit as exit:
        if isinstance(exit.code, int) and exit.code > 128:  # a signal stopped the command
            _finish_quietly()
        raise
    except ModuleNotFoundError as exc:  # an extra the command needs is not installed
        error = extras.missing_extra(exc, next((a for a in sys.argv[1:] if not a.startswith("-")), None))
        if error is None:
            raise
        render.print_error(error)
        sys.exit(EXIT_BAD_INPUT)


def _finish_quietly() -> None:
    """After a stop signal, the process only finishes: a second Ctrl-C (or hangup) now would
    arrive while the interpreter shuts down, when Python no longer handles it, and kill the process
    in the middle of a clean exit. The command already stopped, so these are ignored from here."""
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
