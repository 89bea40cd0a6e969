"""The progress bar of a local run: points done, points/s, ETA, and failures as they happen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from sweep_cli import render

Advance = Callable[[int, int, bool], None]
"""advance(points done, point errors among them, whether the shard failed)"""


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} pts/s" if speed else "… pts/s", style="cyan")


class FailuresColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        errors, failed = task.fields.get("errors", 0), task.fields.get("failed_shards", 0)
        style = "red" if errors or failed else "dim"
        return Text(f"{errors:,} point errors, {failed:,} failed shards", style=style)


@contextmanager
def progress_bar(description: str, total: int, quiet: bool) -> Iterator[Advance]:
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
        TextColumn("eta"), TimeRemainingColumn(), FailuresColumn(),
    )  # fmt: skip
    with Progress(*columns, console=render.err, disable=quiet, transient=False) as progress:
        task = progress.add_task(description, total=total, errors=0, failed_shards=0)
        errors = failed = 0

        def advance(points: int, point_errors: int, shard_failed: bool) -> None:
            nonlocal errors, failed
            errors += point_errors
            failed += shard_failed
            progress.update(task, advance=points, errors=errors, failed_shards=failed)

        yield advance
        progress.update(task, completed=total)
