"""The report's figures, drawn with matplotlib as inline SVG (no scripts, nothing to fetch).

Every figure has one panel per metric. The marks a reader looks at carry ids `sw-<kind>-…`
(line, cell, box, dots, point) so a test can count them in the rendered page."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sweep_cli.render import visible
from sweep_cli.report.intervals import Estimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

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


def _panels(fig_id: str, count: int, width: float = 3.2, height: float = 2.5) -> tuple[Figure, list[Axes]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = f"sweep-{fig_id}"  # the same run gives the same file
    # labels are values and names from the run: text, never mathtext (`$\\frac{1}{$` would raise) or TeX
    plt.rcParams["text.parse_math"] = False
    plt.rcParams["text.usetex"] = False
    cols = min(4, count)
    rows = math.ceil(count / cols)
    fig, grid = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    axes = [grid[i // cols][i % cols] for i in range(rows * cols)]
    for unused in axes[count:]:
        unused.axis("off")
    return fig, axes[:count]


def _svg(fig: Figure) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _labels(values: Iterable[Any]) -> list[str]:
    """Values from the run as tick labels: their control characters shown (see `render.visible`)."""
    return [visible(v) for v in values]


def _style(ax: Axes, title: str, xlabel: str) -> None:
    ax.set_title(visible(title), fontsize=10)
    ax.set_xlabel(visible(xlabel), fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)


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


def lines_figure(fig_id: str, x_axis: str, metrics: Sequence[str], lines: Sequence[Line], legend: str = "") -> str:
    """Each metric against `x_axis`: one line per entry of `lines` (a run, or a value of a second
    axis), each point the mean with its 95% interval as an error bar."""
    x_values = list(dict.fromkeys(x for _, points in lines for x in points))
    xs, is_numeric = _x_positions(x_values)
    position = dict(zip(x_values, xs, strict=True))
    log = is_numeric and bool(xs) and min(xs) > 0 and max(xs) / min(xs) >= 20
    fig, axes = _panels(fig_id, len(metrics))
    for p, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
        for j, (label, points) in enumerate(lines):
            shown = sorted(
                ((position[x], e[metric]) for x, e in points.items() if metric in e),
                key=lambda item: item[0] if is_numeric else 0,
            )
            # the lines side by side, so one does not hide another's error bars
            step = (j - (len(lines) - 1) / 2) * _dodge(xs, is_numeric, log)
            bar = ax.errorbar(
                [x * 10**step if log else x + step for x, _ in shown],
                [e.mean for _, e in shown],
                yerr=[[e.mean - e.low for _, e in shown], [e.high - e.mean for _, e in shown]],
                marker="o",
                ms=4,
                capsize=3,
                linestyle="-" if (is_numeric or len(lines) > 1) and len(x_values) <= CONNECT_UP_TO else "none",
                label=visible(label),
            )
            bar.lines[0].set_gid(f"sw-line-{fig_id}-{p}-{j}")
        if log:
            ax.set_xscale("log")
        if not is_numeric:
            ax.set_xticks(xs, _labels(x_values), rotation=30, ha="right", fontsize=8)
        _style(ax, metric, x_axis)
        if p == 0 and len(lines) > 1:
            ax.legend(title=visible(legend), fontsize=7, title_fontsize=7)
    return _svg(fig)


def scatter_figure(fig_id: str, axis: str, metrics: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Each point's metrics against a continuous parameter (rows: the value, then one column per metric)."""
    xs = [float(r[0]) for r in rows]
    fig, axes = _panels(fig_id, len(metrics))
    for p, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
        ys = [r[1 + p] if r[1 + p] is not None else math.nan for r in rows]
        ax.scatter(xs, ys, s=6, alpha=0.5).set_gid(f"sw-point-{fig_id}-{p}")
        _style(ax, metric, axis)
    return _svg(fig)


def heatmap_figure(
    fig_id: str,
    row_axis: str,
    col_axis: str,
    metrics: Sequence[str],
    cells: Mapping[tuple[str, str], Mapping[str, Estimate]],
) -> str:
    """Each metric's mean over two axes: one cell per pair of values, blank where no point was ok."""
    import numpy as np

    row_values = list(dict.fromkeys(r for r, _ in cells))
    col_values = list(dict.fromkeys(c for _, c in cells))
    for values in (row_values, col_values):
        as_numbers = numeric(values)
        if as_numbers is not None:
            values[:] = [v for _, v in sorted(zip(as_numbers, values, strict=True))]
    fig, axes = _panels(fig_id, len(metrics), width=3.6, height=max(2.5, 0.3 * len(row_values) + 1.2))
    for p, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
        grid = np.full((len(row_values), len(col_values)), np.nan)
        for (r, c), per_metric in cells.items():
            if metric in per_metric:
                grid[row_values.index(r), col_values.index(c)] = per_metric[metric].mean
        mesh = ax.pcolormesh(np.ma.masked_invalid(grid), cmap="viridis")
        mesh.set_gid(f"sw-cell-{fig_id}-{p}")
        fig.colorbar(mesh, ax=ax).ax.tick_params(labelsize=7)
        if grid.size <= ANNOTATE_CELLS:
            middle = np.nanmean(grid) if np.isfinite(grid).any() else 0.0
            for (i, k), value in np.ndenumerate(grid):
                if np.isfinite(value):
                    colour = "black" if value > middle else "white"
                    ax.text(k + 0.5, i + 0.5, f"{value:.3g}", ha="center", va="center", fontsize=7, color=colour)
        ax.set_xticks(
            [k + 0.5 for k in range(len(col_values))], _labels(col_values), rotation=30, ha="right", fontsize=8
        )
        ax.set_yticks([i + 0.5 for i in range(len(row_values))], _labels(row_values), fontsize=8)
        ax.set_ylabel(visible(row_axis), fontsize=8)
        _style(ax, metric, col_axis)
        ax.grid(False)
    return _svg(fig)


def spread_figure(
    fig_id: str, metrics: Sequence[str], groups: Sequence[tuple[str, Mapping[str, Sequence[float]]]]
) -> str:
    """Each metric's values at each repeated parameter combination: a box, and every repeat as a dot."""
    labels = _labels(label for label, _ in groups)
    fig, axes = _panels(fig_id, len(metrics), width=3.6, height=max(2.5, 0.32 * len(groups) + 1.2))
    for p, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
        data = [list(values.get(metric, ())) for _, values in groups]
        boxes = ax.boxplot(data, orientation="horizontal", widths=0.6, showfliers=False, manage_ticks=False)
        for i, box in enumerate(boxes["boxes"]):
            box.set_gid(f"sw-box-{fig_id}-{p}-{i}")
        for i, values in enumerate(data):
            # a fixed spread across the box's height: the same page for the same run
            jitter = [0.0] if len(values) == 1 else [-0.2 + 0.4 * k / (len(values) - 1) for k in range(len(values))]
            dots = ax.scatter(values, [i + 1 + d for d in jitter], s=8, alpha=0.6, color="#e45756", zorder=3)
            dots.set_gid(f"sw-dots-{fig_id}-{p}-{i}")
        ax.set_yticks(range(1, len(labels) + 1), labels if p == 0 else [""] * len(labels), fontsize=7)
        ax.invert_yaxis()
        _style(ax, metric, metric)
    return _svg(fig)
