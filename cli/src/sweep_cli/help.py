"""`sweep --help` (and a bare `sweep`): the command list in typer's panels, drawn with rich directly.

typer's own renderer (`typer.rich_utils`) imports rich's Markdown (markdown-it) and pretty
tracebacks at its top, ~90 ms of the ~350 ms the first thing a new user types took (issue 13,
`bench/RESULTS.md`, cold start), for markup this help does not use. This draws the same usage line,
options and commands panels with the rich parts `sweep` imports anyway (console, table, panel).
A command's own `--help` stays typer's: its options, defaults and env vars are typer's to show.
"""

from __future__ import annotations

import os
from typing import Any

import typer.core

TITLE_STYLE, NAME_STYLE, BORDER_STYLE = "yellow", "bold cyan", "dim"


def first_paragraph(text: str | None) -> str:
    """A command's summary: its help's first paragraph, on one line (the panel wraps it)."""
    if not text:
        return ""
    paragraph = text.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def _console() -> Any:
    from rich.console import Console

    # typer's switches for width and colour, so that both renderers answer to the same environment
    width = os.environ.get("TERMINAL_WIDTH")
    force = True if os.getenv("GITHUB_ACTIONS") or os.getenv("FORCE_COLOR") or os.getenv("PY_COLORS") else None
    if os.getenv("_TYPER_FORCE_DISABLE_TERMINAL"):
        force = False
    return Console(highlight=False, width=int(width) if width and width.isdigit() else None, force_terminal=force)


def _panel(title: str, rows: list[tuple[str, str]]) -> Any:
    from rich import box
    from rich.panel import Panel
    from rich.table import Table

    table = Table.grid(padding=(0, 1), collapse_padding=False, expand=False)
    table.add_column(style=NAME_STYLE, no_wrap=True)
    table.add_column()
    for name, text in rows:
        table.add_row(name, text)
    return Panel(table, title=title, title_align="left", border_style=BORDER_STYLE, box=box.ROUNDED)


class SweepGroup(typer.core.TyperGroup):
    """The top-level group: typer's, with a lighter help page."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from rich.padding import Padding
        from rich.text import Text

        console = _console()
        usage = " ".join(self.collect_usage_pieces(ctx))
        console.print(Padding(Text.assemble(("Usage: ", TITLE_STYLE), (f"{ctx.command_path} ", "bold"), usage), 1))
        if self.help:
            console.print(Padding(first_paragraph(self.help), (0, 1, 1, 1)))
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            if param.param_type_name == "option" and not getattr(param, "hidden", False):
                names = ", ".join([*param.opts, *param.secondary_opts])
                options.append((names, first_paragraph(getattr(param, "help", None))))
        console.print(_panel("Options", options))
        commands: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                commands.append((name, first_paragraph(command.short_help or command.help)))
        if commands:
            console.print(_panel("Commands", commands))
