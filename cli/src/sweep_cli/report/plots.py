"""The report's figures as inline SVG (no scripts, nothing to fetch), drawn with `report.svg`.

Every figure has one panel per metric. The marks a reader looks at carry ids `sw-<kind>-…`
(line, cell, box, dots, point) so a test can count them in the rendered page. Text from the run
(values, names) stays text: shortened past a length (`report.svg.Text`), never drawn as paths."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from sweep_cli.report.intervals import Estimate
from sweep_cli.report.svg import COLOURS, Layout, Panel, Scale, Text, dots, frame, legend, number, text, viridis

Line = tuple[str, Mapping[str, Mapping[str, Estimate]]]
"""A line's label and, per x value, each metric's estimate."""
CONNECT_UP_TO = 30
"""A line joins its points up to this many x values; beyond (random search), the points stand alone."""
ANNOTATE_CELLS = 100
"""Heatmaps with at most this many cells print each cell's mean."""


def numeric(values: Sequence[Any]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _x_positions(values: list[str]) -> tuple[list[float], bool]:
    """Numbers where every value is one, else categories 0..n-1 in the order given."""
    xs = numeric(values)
    return (xs, True) if xs is not None else ([float(i) for i in range(len(values))], False)


def _dodge(xs: list[float], is_numeric: bool, log: bool) -> float:
    """How far apart to draw the lines at one x: in decades on a log axis, else in x units."""
    if not is_numeric:
        return 0.08
    low, high = min(xs, default=0.0), max(xs, default=0.0)
    return 0.012 * (math.log10(high / low) if log else high - low)


def _y_ticks(scale: Scale) -> list[tuple[float, str]]:
    return [(scale(t), number(t)) for t in scale.ticks()]


def lines_figure(
    fig_id: str,
    x_axis: str,
    metrics: Sequence[str],
    lines: Sequence[Line],
    legend_title: str = "",
    names: Text | None = None,
) -> str:
    """Each metric against `x_axis`: one line per entry of `lines` (a run, or a value of a second
    axis), each point the mean with its 95% interval as an error bar."""
    names = names if names is not None else Text()
    x_values = list(dict.fromkeys(x for _, points in lines for x in points))
    xs, is_numeric = _x_positions(x_values)
    position = dict(zip(x_values, xs, strict=True))
    log = is_numeric and bool(xs) and min(xs) > 0 and max(xs) / min(xs) >= 20
    connect = (is_numeric or len(lines) > 1) and len(x_values) <= CONNECT_UP_TO
    layout = Layout(len(metrics), margins=(52, 24, 14, 42 if is_numeric else 80))
    body: list[str] = []
    if len(lines) > 1:
        labels = [(names(label, 30), min(len(label), 30)) for label, _ in lines]
        strip, height = legend(names(legend_title, 24), labels, layout.cols * layout.width)
        layout = Layout(layout.count, margins=layout.margins, header=height)
        body.append(strip)
    step = _dodge(xs, is_numeric, log)
    for p, metric in enumerate(metrics):
        panel = layout.panel(p)
        xscale = Scale.around(
            [x * 10**d if log else x + d for x in xs for d in (-step * len(lines) / 2, step * len(lines) / 2)],
            panel.left,
            panel.right,
            log=log,
            pad=0.05 if is_numeric else 0.5 / max(1, len(xs)),
        )
        shown = [e[metric] for _, points in lines for e in points.values() if metric in e]
        yscale = Scale.around([v for e in shown for v in (e.low, e.high)], panel.bottom, panel.top)
        if is_numeric:
            xticks = [(xscale(t), number(t)) for t in xscale.ticks()]
        else:
            xticks = [(xscale(x), names(v, 20)) for x, v in zip(xs, x_values, strict=True)]
        body.append(frame(panel, names(metric, 40), names(x_axis, 40), xticks, _y_ticks(yscale), rotate=not is_numeric))
        for j, (_, points) in enumerate(lines):
            at = sorted(
                ((position[x], e[metric]) for x, e in points.items() if metric in e),
                key=lambda item: item[0] if is_numeric else 0,
            )
            # the lines side by side, so one does not hide another's error bars
            shift = (j - (len(lines) - 1) / 2) * step
            body.append(_line(f"sw-line-{fig_id}-{p}-{j}", at, xscale, yscale, shift, log, connect, j))
    return layout.svg(body)


def _line(
    gid: str,
    at: Sequence[tuple[float, Estimate]],
    xscale: Scale,
    yscale: Scale,
    shift: float,
    log: bool,
    connect: bool,
    j: int,
) -> str:
    """One line's points with their error bars (caps 3 px wide), joined or not."""
    colour = COLOURS[j % len(COLOURS)]
    points = [(xscale(x * 10**shift if log else x + shift), e) for x, e in at]
    bars = "".join(
        f"M{x:.1f} {yscale(e.low):.1f}V{yscale(e.high):.1f}M{x - 3:.1f} {yscale(e.low):.1f}h6"
        f"M{x - 3:.1f} {yscale(e.high):.1f}h6"
        for x, e in points
        if e.high > e.low
    )
    parts = [f'<g id="{gid}">']
    if bars:
        parts.append(f'<path d="{bars}" stroke="{colour}" stroke-width="1" fill="none"/>')
    if connect and len(points) > 1:
        d = "M" + "L".join(f"{x:.1f} {yscale(e.mean):.1f}" for x, e in points)
        parts.append(f'<path d="{d}" stroke="{colour}" stroke-width="1.5" fill="none"/>')
    parts.append(dots([(x, yscale(e.mean)) for x, e in points], 6, colour, 1))
    parts.append("</g>")
    return "".join(parts)


def scatter_figure(
    fig_id: str, axis: str, metrics: Sequence[str], rows: Sequence[Sequence[Any]], names: Text | None = None
) -> str:
    """Each point's metrics against a continuous parameter (rows: the value, then one column per metric)."""
    names = names if names is not None else Text()
    xs = [float(r[0]) for r in rows]
    layout = Layout(len(metrics))
    body = []
    for p, metric in enumerate(metrics):
        panel = layout.panel(p)
        ys = [float(r[1 + p]) if r[1 + p] is not None else math.nan for r in rows]
        xscale = Scale.around(xs, panel.left, panel.right)
        yscale = Scale.around(ys, panel.bottom, panel.top)
        xticks = [(xscale(t), number(t)) for t in xscale.ticks()]
        body.append(frame(panel, names(metric, 40), names(axis, 40), xticks, _y_ticks(yscale)))
        at = [(xscale(x), yscale(y)) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
        body.append(dots(at, 3.5, COLOURS[0], 0.5, f"sw-point-{fig_id}-{p}"))
    return layout.svg(body)


def heatmap_figure(
    fig_id: str,
    row_axis: str,
    col_axis: str,
    metrics: Sequence[str],
    cells: Mapping[tuple[str, str], Mapping[str, Estimate]],
    names: Text | None = None,
) -> str:
    """Each metric's mean over two axes: one cell per pair of values, blank where no point was ok."""
    names = names if names is not None else Text()
    row_values = list(dict.fromkeys(r for r, _ in cells))
    col_values = list(dict.fromkeys(c for _, c in cells))
    for values in (row_values, col_values):
        as_numbers = numeric(values)
        if as_numbers is not None:
            values[:] = [v for _, v in sorted(zip(as_numbers, values, strict=True))]
    rows, cols = {v: i for i, v in enumerate(row_values)}, {v: k for k, v in enumerate(col_values)}
    layout = Layout(len(metrics), width=360, height=max(250, 30 * len(row_values) + 130), margins=(130, 24, 58, 80))
    body = []
    for p, metric in enumerate(metrics):
        panel = layout.panel(p)
        means = {(rows[r], cols[c]): e[metric].mean for (r, c), e in cells.items() if metric in e}
        body.append(_heatmap_panel(f"sw-cell-{fig_id}-{p}", panel, means, len(row_values), len(col_values)))
        w, h = panel.width / len(col_values), panel.height / len(row_values)
        xticks = [(panel.left + (k + 0.5) * w, names(v, 14)) for k, v in enumerate(col_values)]
        yticks = [(panel.top + (i + 0.5) * h, names(v, 14)) for i, v in enumerate(row_values)]
        body.append(frame(panel, names(metric, 40), names(col_axis, 40), xticks, yticks, rotate=True, grid=False))
        middle = panel.top + panel.height / 2
        body.append(
            text(
                panel.left - 118,
                middle,
                names(row_axis, 30),
                8,
                "middle",
                f' transform="rotate(-90 {panel.left - 118:.1f} {middle:.1f})"',
            )
        )
    return layout.svg(body)


def _heatmap_panel(gid: str, panel: Panel, means: Mapping[tuple[int, int], float], n_rows: int, n_cols: int) -> str:
    """The cells (one `<path>` each, in a group `gid`), their values when few, and a colour bar."""
    low, high = min(means.values(), default=0.0), max(means.values(), default=1.0)
    span = (high - low) or 1.0
    w, h = panel.width / n_cols, panel.height / n_rows
    middle = sum(means.values()) / len(means) if means else 0.0
    cells, labels = [], []
    for (i, k), value in sorted(means.items()):
        x, y = panel.left + k * w, panel.top + i * h
        cells.append(f'<path d="M{x:.1f} {y:.1f}h{w:.1f}v{h:.1f}h{-w:.1f}z" fill="{viridis((value - low) / span)}"/>')
        if n_rows * n_cols <= ANNOTATE_CELLS:
            colour = "black" if value > middle else "white"
            labels.append(text(x + w / 2, y + h / 2 + 3, number(value), 7, "middle", f' fill="{colour}"'))
    bar_x = panel.right + 8
    stripes = "".join(
        f'<rect x="{bar_x:.1f}" y="{panel.bottom - (s + 1) * panel.height / 16:.1f}" width="10" '
        f'height="{panel.height / 16 + 0.5:.1f}" fill="{viridis(s / 15)}"/>'
        for s in range(16)
    )
    scale = Scale(low, high if high > low else low + 1, panel.bottom, panel.top)
    bar_ticks = "".join(text(bar_x + 13, scale(t) + 3, number(t), 7, "start") for t in scale.ticks())
    return f'<g id="{gid}">{"".join(cells)}</g>{"".join(labels)}{stripes}{bar_ticks}'


def _quartiles(values: Sequence[float]) -> tuple[float, float, float, float, float]:
    """Whisker low, q1, median, q3, whisker high (1.5 IQR within the data, as matplotlib's boxplot)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        v = ordered[0]
        return v, v, v, v, v
    q1, median, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    reach = 1.5 * (q3 - q1)
    low = min(v for v in ordered if v >= q1 - reach)
    high = max(v for v in ordered if v <= q3 + reach)
    return low, q1, median, q3, high


def spread_figure(
    fig_id: str,
    metrics: Sequence[str],
    groups: Sequence[tuple[str, Mapping[str, Sequence[float]]]],
    names: Text | None = None,
) -> str:
    """Each metric's values at each repeated parameter combination: a box, and every repeat as a dot."""
    names = names if names is not None else Text()
    labels = [names(label, 28) for label, _ in groups]
    layout = Layout(len(metrics), width=360, height=max(250, 32 * len(groups) + 120), margins=(170, 24, 14, 42))
    body = []
    for p, metric in enumerate(metrics):
        panel = layout.panel(p)
        data = [list(values.get(metric, ())) for _, values in groups]
        xscale = Scale.around([v for values in data for v in values], panel.left, panel.right)
        row = panel.height / max(1, len(groups))
        yticks = [(panel.top + (i + 0.5) * row, labels[i] if p % layout.cols == 0 else "") for i in range(len(groups))]
        xticks = [(xscale(t), number(t)) for t in xscale.ticks()]
        body.append(frame(panel, names(metric, 40), names(metric, 40), xticks, yticks))
        for i, values in enumerate(data):
            y = panel.top + (i + 0.5) * row
            if values:
                low, q1, median, q3, high = (xscale(v) for v in _quartiles(values))
                half = 0.3 * row
                d = (
                    f"M{q1:.1f} {y - half:.1f}H{q3:.1f}V{y + half:.1f}H{q1:.1f}z"
                    f"M{low:.1f} {y:.1f}H{q1:.1f}M{q3:.1f} {y:.1f}H{high:.1f}"
                    f"M{median:.1f} {y - half:.1f}V{y + half:.1f}"
                )
                body.append(f'<path id="sw-box-{fig_id}-{p}-{i}" d="{d}" stroke="#1f77b4" fill="none"/>')
            # a fixed spread across the box's height: the same page for the same run
            n = len(values)
            jitter = [0.0] if n == 1 else [-0.2 + 0.4 * k / (n - 1) for k in range(n)]
            at = [(xscale(v), y + d * row) for v, d in zip(values, jitter, strict=False)]
            body.append(dots(at, 4, "#e45756", 0.6, f"sw-dots-{fig_id}-{p}-{i}"))
    return layout.svg(body)
