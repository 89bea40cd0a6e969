"""The progress bar of a run: points done, points/s, ETA, and failures as they happen."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from rich.console import RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from sweep_cli import render


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} pts/s" if speed else "… pts/s", style="cyan")


class FailuresColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        errors, failed = task.fields.get("errors", 0), task.fields.get("failed_shards", 0)
        style = "red" if errors or failed else "dim"
        return Text(f"{errors:,} point errors, {failed:,} failed shards", style=style)


class _NotedProgress(Progress):
    """A progress display with a line under its bars for a note (a point that runs long)."""

    note: Text | None = None

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        if self.note is not None:
            yield self.note


class Bar:
    """Updates for one run's bar: `advance` as shards finish locally, `set` from a polled status."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress, self._task = progress, task
        self.errors = self.failed = 0

    def note(self, text: str | None) -> None:
        """Show `text` under the bar (escaped: it quotes the run's names), or nothing with None."""
        if isinstance(self._progress, _NotedProgress):
            self._progress.note = None if text is None else render.shown(text, "yellow")

    def advance(self, points: int, point_errors: int, shard_failed: bool) -> None:
        self.errors += point_errors
        self.failed += shard_failed
        self._progress.update(self._task, advance=points, errors=self.errors, failed_shards=self.failed)

    def set(self, done: int, point_errors: int, failed_shards: int) -> None:
        self.errors, self.failed = point_errors, failed_shards
        self._progress.update(self._task, completed=done, errors=point_errors, failed_shards=failed_shards)


@contextmanager
def progress_bar(description: str, total: int, quiet: bool) -> Iterator[Bar]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        FailuresColumn(),
    )
    with _NotedProgress(*columns, console=render.err, disable=quiet, transient=False) as progress:
        task = progress.add_task(description, total=total, errors=0, failed_shards=0)
        yield Bar(progress, task)
        progress.update(task, completed=total)
