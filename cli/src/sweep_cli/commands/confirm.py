"""Asking before a command removes what cannot be had back (`sweep rm`, `run --force`): say what
will go, then ask on a terminal; `--yes` answers for a script. Without a terminal and without
`--yes`, the command refuses: a piped or scheduled command must not remove runs on a guess."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from sweep_cli import render
from sweep_cli.errors import UsageError

YesOption = typer.Option("--yes", "-y", help="Remove without asking (for scripts; a terminal is asked).")


def interactive() -> bool:
    """Whether a person can answer: the command's input is a terminal."""
    return sys.stdin.isatty()


def confirm_removal(what: str, items: Sequence[str], yes: bool) -> None:
    """Print `what` and `items` on stderr; unless `yes`, ask on a terminal (no: exit 1) or refuse (exit 2)."""
    render.err.print(render.shown(what + "".join(f"\n  {item}" for item in items), lines=True))
    if yes:
        return
    if not interactive():
        raise UsageError(
            "nothing was removed: this command asks before it removes, and its input is not a terminal.",
            field="--yes",
            hint="pass --yes to remove without asking.",
        )
    if not typer.confirm("remove them?", default=False, err=True):
        render.err.print("nothing was removed.")
        raise typer.Exit(1)
