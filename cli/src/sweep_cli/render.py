"""Rendering for the terminal: tables, status, plans, errors, and machine formats (csv, json)."""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sweep_contracts.errors import PluginWarning, SweepError

if TYPE_CHECKING:
    from sweep_cli.results.query import QueryResult
    from sweep_cli.runs import RunRow, Summary
    from sweep_contracts.manifest import RunManifest
    from sweep_orchestrator.status import RunStatus

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)
if not out.is_terminal:  # piped or in CI: don't squeeze tables into 80 columns
    out = Console(highlight=False, soft_wrap=False, width=160)
if not err.is_terminal:  # logs wrap lines themselves; a hard wrap would split messages mid-sentence
    err = Console(stderr=True, highlight=False, soft_wrap=True)

# C0 (with ESC), DEL, C1 (with CSI), bidi overrides and isolates, and lone surrogates (which a
# terminal's encoder refuses): what lets text rewrite a terminal, its clipboard or its reading order.
_OTHER_CONTROLS = r"\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CONTROL = re.compile(r"[\x00-\x1f" + _OTHER_CONTROLS + "]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f" + _OTHER_CONTROLS + "]")  # keeps \t and \n


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any, *, lines: bool = False) -> str:
    """Text that came from outside (an experiment, a sweep file, a server, a store) with every
    control character shown as its escape (`\\x1b`, `\\u202e`), so none reaches the terminal to act;
    `lines` keeps newlines and tabs, for a block meant to span lines (a traceback, a log)."""
    return (_CONTROL_BUT_LINES if lines else _CONTROL).sub(_escape, value if isinstance(value, str) else str(value))


def shown(value: Any, style: str = "", *, lines: bool = False) -> Text:
    """Outside text for rich: `visible`, and a `Text`, which rich never reads as markup (a `str`
    would be: `[/]` in a value ends the command in a `MarkupError`, `[link=…]` becomes a link).
    Every value from an experiment, a sweep file, a server or a store is printed through this."""
    return Text(visible(value, lines=lines), style=style)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def duration_text(seconds: float) -> str:
    """A duration as a person says it: `22 µs`, `0.4 s`, `45 s`, `12 min 5 s`, `3 h 12 min`, `2 d 4 h`."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs" if seconds else "0 s"
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    whole = round(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if whole >= size:
            high, rest = divmod(whole, size)
            low = rest // sub_size
            return f"{high:,} {unit} {low} {sub}" if low else f"{high:,} {unit}"
    return f"{whole} s"


_STATE_STYLE = {
    "succeeded": "green",
    "completed_with_errors": "yellow",
    "running": "yellow",
    "stalled": "red",
    "partial": "dark_orange",
    "failed": "red",
}


def cell(value: Any) -> Text:
    """A value as a table cell (shown as text, see `shown`): numbers to 4 significant digits, maps as k=v."""
    return shown(cell_text(value))


def cell_text(value: Any) -> str:
    """`cell`'s text, as it came (for a page that escapes it itself)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float | Decimal):
        return f"{float(value):.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={cell_text(v)}" for k, v in value.items())
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def route_plugin_warnings() -> None:
    """Show a broken plugin as one `warning:` line on stderr, not Python's two-line warning format."""
    default = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, PluginWarning):
            err.print(Text.assemble(("warning: ", "bold yellow"), shown(message)))
        else:
            default(message, category, *args, **kwargs)

    warnings.showwarning = show


def print_error(error: SweepError) -> None:
    """One paragraph: what failed, the other problems if several, and the fix."""
    text = Text()
    text.append("error: ", style="bold red")
    text.append_text(shown(error.message))  # messages quote values, a server's answer, DuckDB's
    for problem in error.problems[1:]:
        text.append_text(shown(f"\n  also `{problem.field}`: {problem.message}", lines=True))
    if error.hint:
        text.append("\n  hint: ", style="bold")
        text.append_text(shown(error.hint))
    err.print(text)


def print_result(result: QueryResult, fmt: str, title: str | None = None) -> None:
    if fmt == "json":
        rows = [dict(zip(result.columns, (_plain(v) for v in row), strict=True)) for row in result.rows]
        print(json.dumps(rows, indent=2, allow_nan=True, default=str))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(map(visible, result.columns))
        for row in result.rows:
            writer.writerow([_csv_value(v) for v in row])
        print(buffer.getvalue(), end="")
    else:
        table = Table(title=shown(title) if title else None, title_justify="left", header_style="bold")
        for column in result.columns:
            table.add_column(shown(column), overflow="fold")
        for row in result.rows:
            table.add_row(*(cell(v) for v in row))
        out.print(table)


def _csv_value(value: Any) -> Any:
    """A CSV field: text made `visible` (a CSV printed to a terminal is read there too), maps as JSON
    (whose escapes keep its control characters inert)."""
    if isinstance(value, Mapping):
        return json.dumps(_plain(value))
    value = _plain(value)
    return visible(value) if isinstance(value, str) else value


def summary_table(result: QueryResult, metric: str, goal: str, best: str = "best point (mean over repeats)") -> Table:
    """Per series: points, errors, the metric's mean/min/max and the best (`best` names what it is)."""
    table = Table(
        title=shown(f"Summary — {metric} ({'higher' if goal == 'max' else 'lower'} is better)"),
        title_justify="left",
        header_style="bold",
    )
    for name in ("series", "points", "errors", "mean", "min", "max", best, metric):
        table.add_column(name, justify="right" if name not in ("series", best) else "left")
    for series, points, errors, mean, low, high, chosen, best_value in result.rows:
        table.add_row(
            shown(series),
            str(points),
            Text(str(errors), style="red" if errors else ""),
            cell(mean),
            cell(low),
            cell(high),
            cell(chosen),
            cell(best_value),
        )
    return table


_CODES_SQL = "SELECT error_code, count(*) FROM outcomes GROUP BY 1"


def status_text(status: RunStatus) -> Text:
    style = _STATE_STYLE.get(status.state, "")
    text = Text()
    text.append(f"run {status.run_id}", style="bold")
    text.append_text(shown(f" ({status.experiment})  "))
    text.append(status.label, style=f"bold {style}")
    if status.stalled_for_s is not None:
        text.append(
            f" for {status.stalled_for_s / 60:.0f} min: {status.shards_pending} shards are overdue "
            "(`sweep retry` dispatches them again)",
            style=style,
        )
    text.append(
        f"\n  shards  {status.shards_success} succeeded, {status.shards_failure} failed, "
        f"{status.shards_pending} pending of {status.shards_total}"
    )
    if status.shards_queued and status.overdue_at is not None:
        text.append(
            f"\n  queued  {status.shards_queued} may still wait in Lambda's queue (a throttled queue is tried every "
            f"5 minutes); lost only after {status.overdue_at:%Y-%m-%d %H:%M} UTC — `sweep retry` leaves them "
            "alone until then (`--force` sends them again)",
            style="yellow",
        )
    text.append(
        f"\n  points  {status.points_ok} ok, {status.points_error} error, "
        f"{status.points_not_run} not run of {status.points_total}"
    )
    if status.error_codes:
        text.append("\n  errors  " + ", ".join(f"{code} x{n}" for code, n in sorted(status.error_codes.items())))
        if status.failures_not_read:  # status reads only the failures it shows
            every = f'sweep results {status.run_id} --sql "{_CODES_SQL}"'
            text.append(f" in the first {len(status.failed_shards)} failed shards; every one: {every}")
    for failure in status.failed_shards[:5]:
        text.append(f"\n  shard {failure.shard_id} (attempt {failure.attempt}) {failure.error_code}: ", style="red")
        text.append_text(shown(clip(failure.error_message or "", 300)))
    if len(status.failed_shards) > 5 or status.shards_failure > len(status.failed_shards):
        text.append(f"\n  … {status.shards_failure - 5} more failed shards")
    if status.missing_shards:
        more = "" if status.shards_pending <= len(status.missing_shards) else ", …"
        text.append(f"\n  pending shards  {', '.join(map(str, status.missing_shards[:20]))}{more}")
    return text


def plan_tables(
    manifest: RunManifest,
    request_bytes: int,
    settings: Mapping[str, Mapping[str, Any]],
    shards_note: str | None = None,
) -> list[Table]:
    """The plan, its series and its settings; `shards_note` says how a local run's shards differ."""
    request = manifest.request
    plan = manifest.plan
    head = Table(show_header=False, box=None, title="Plan", title_justify="left")
    head.add_column(style="bold")
    head.add_column()
    head.add_row("experiment", shown(request.experiment))
    head.add_row("run_id", request.run_id or "(generated at submit)")
    head.add_row("config", shown(json.dumps(manifest.effective_config())))
    staged = [
        f"{key} ({record['source']}{' v' + str(record['version']) if 'version' in record else ''})"
        for key, record in manifest.config_provenance.items()
        if record["source"] in ("ssm", "file")
    ]
    if staged:
        head.add_row("stage defaults", shown(", ".join(staged)))
    head.add_row("points", f"{plan.points_total:,}  (repeats {plan.repeats})")
    shards = f"{plan.shard_count:,} of {plan.shard_size:,} points ({plan.shard_size_source})"
    head.add_row("shards", shards + (f"\n{shards_note}" if shards_note else ""))
    head.add_row("request", f"{request_bytes:,} bytes")
    series = Table(title="Series", title_justify="left", header_style="bold")
    for name in ("series", "first index", "points", "axes"):
        series.add_column(name)
    from sweep_contracts.points import PointSpace

    space = PointSpace(manifest.request, manifest.effective_config())
    axes_by_series = {s.name: ", ".join(f"{axis} ({how})" for axis, how in s.axes.items()) for s in space.series}
    for info in plan.series:
        series.add_row(
            shown(info.name), str(info.first_index), f"{info.size:,}", shown(axes_by_series.get(info.name, ""))
        )
    caps = Table(title="Settings", title_justify="left", header_style="bold")
    for name in ("setting", "value", "source", "note"):
        caps.add_column(name)
    for name, record in settings.items():
        note = record.get("note") or (shards_note if name == "shard_size" else None)
        caps.add_row(
            shown(name), shown(f"{record['value']:,}"), shown(record.get("source", "default")), shown(note or "")
        )
    return [head, series, caps]


def option_table(series: str, axis: str, result: QueryResult, score: str) -> Table:
    """One LLM option axis: per value, its points, errors, score, latency p50/p90 and tokens/s,
    the score's interval and its paired difference from the best value; the verdict as caption."""
    from sweep_cli.report.llm import COLUMNS  # with the query layer: only when there is a table to show

    verdict = getattr(result, "verdict", None)
    table = Table(
        title=shown(f"{series}: {axis} (score is {score})"),
        title_justify="left",
        header_style="bold",
        caption=shown(verdict) if verdict else None,
        caption_justify="left",
    )
    for name in COLUMNS:
        table.add_column(name, justify="left" if name == "value" else "right")
    for value, points, errors, *figures in result.rows:
        table.add_row(cell(value), str(points), Text(str(errors), style="red" if errors else ""), *map(cell, figures))
    return table


def print_summary(summary: Summary, fmt: str) -> None:
    if fmt == "table":
        best = summary.settings.label if summary.settings is not None else "best point (mean over repeats)"
        out.print(summary_table(summary.result, summary.metric, summary.goal, best))
        for series, axis, result in summary.options:
            out.print(option_table(series, axis, result, summary.metric))
        if summary.options:
            from sweep_cli.report.llm import METHOD

            out.print(METHOD, style="dim")
    else:
        print_result(summary.result, fmt)


def runs_table(rows: Sequence[RunRow]) -> Table:
    """The runs, with their state where the backend knows it and a description where one was given."""
    with_state = all(row.status is not None for row in rows)
    with_description = any(row.description for row in rows)
    table = Table(title="Runs", title_justify="left", header_style="bold")
    names = ["run_id", "experiment", "created", "points", "shards"]
    names += ["state", "ok", "errors"] if with_state else []
    names += ["description"] if with_description else []
    for name in names:
        table.add_column(name, justify="right" if name in ("points", "shards", "ok", "errors") else "left")
    for row in rows:
        cells: list[str | Text] = [
            shown(row.run_id),
            shown(row.experiment),
            cell(row.created_at.replace(microsecond=0)),
            f"{row.points:,}",
            f"{row.shards:,}",
        ]
        if row.status is not None and with_state:
            status = row.status
            cells += [Text(status.label, style=_STATE_STYLE.get(status.state, "")), f"{status.points_ok:,}"]
            cells.append(f"{status.points_error:,}")
        if with_description:
            cells.append(shown(row.description or ""))
        table.add_row(*cells)
    return table


def error_groups_text(result: QueryResult, run_id: str) -> Text:
    """Point errors grouped by type and message (rows of `ERROR_GROUPS_SQL`), each with an example."""
    text = Text("point errors", style="bold")
    for error_type, message, count, example in result.rows:
        text.append(f"\n  {count:>6,} x ", style="red")
        text.append_text(shown(f"{error_type}: {(message or '')[:200]}"))
        text.append(f"  (e.g. point {example}: sweep logs {run_id} --point {example})", style="dim")
    return text
