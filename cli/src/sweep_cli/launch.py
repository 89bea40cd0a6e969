"""The `sweep` console script. For `sweep run` it starts the local pool's fork server before
anything else, so the fork server loads the worker (~0.35 s) while this process imports the CLI
and parses the command line (~0.3 s), rather than after: the first shard of a local run waits
for the fork server, and this was a fifth of a 200,000-point run's wall time (issue 13).

It imports nothing heavy itself: multiprocessing runs the parent's main script again in every
process it starts, and for this script that is this module alone."""

from __future__ import annotations

import sys

HELP = frozenset({"--help", "-h"})


def runs_locally(args: list[str]) -> bool:
    """Whether the command line asks `sweep run` to run a sweep (not for its help)."""
    return bool(args) and args[0] == "run" and not HELP.intersection(args[1:])


def main() -> None:
    if runs_locally(sys.argv[1:]):
        from sweep_cli.local._pool import start_fork_server

        start_fork_server()  # `sweep run` asks again: the second call finds it running
    from sweep_cli.main import main as cli

    cli()
