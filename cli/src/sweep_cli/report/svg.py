"""The drawing kit of the report's figures: panels, scales, ticks, colours and text, written as
SVG by hand.

Why not matplotlib (which drew them before): the maze example's report, 7 figures of 8 panels,
took 5.5–5.9 s on an idle machine (`sweep run` of it: 1.4 s) — its import, `tight_layout` (a
second draw) and text drawn glyph by glyph as paths (five 20,000-character labels: a 24 MB page).
Written here, the same page takes a fraction of a second and its text stays text (see
bench/report.py and bench/RESULTS.md). What we copy from matplotlib is checked against it in
tests/unit/test_report_svg.py: tick positions (`MaxNLocator` with 5 bins, steps 1, 2, 2.5, 5, 10)
and the viridis colour map.

Every piece of text goes through `Text`: control characters shown (`render.visible`), XML
escaped, and shortened past a length with the full value kept for the page's table of shortened
values and in a tooltip."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sweep_cli.render import visible

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
"""matplotlib's `tab10`: the colour of the j-th line."""
_VIRIDIS = (
    "#440154", "#48186a", "#472d7b", "#424086", "#3b528b", "#33638d", "#2c728e", "#26828e", "#21918c",
    "#1fa088", "#28ae80", "#3fbc73", "#5ec962", "#84d44b", "#addc30", "#d8e219", "#fde725",
)  # fmt: skip
"""viridis at 0, 1/16, …, 1 (matplotlib's); between two stops, linear (within 6/255 of it)."""
_STEPS = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0)
TOOLTIP_CHARS = 200
"""A shortened label's tooltip holds at most this much of its value; the page's table, all of it."""


def number(value: float) -> str:
    """A tick or cell value, short: 4 significant digits."""
    return f"{value:.4g}"


def viridis(t: float) -> str:
    """The viridis colour at `t` in [0, 1]."""
    t = min(1.0, max(0.0, t)) * (len(_VIRIDIS) - 1)
    i = min(int(t), len(_VIRIDIS) - 2)
    low, high = _VIRIDIS[i], _VIRIDIS[i + 1]
    mix = [round(int(low[k : k + 2], 16) * (1 - (t - i)) + int(high[k : k + 2], 16) * (t - i)) for k in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def ticks(low: float, high: float, bins: int = 5) -> list[float]:
    """Round tick values within [low, high]: matplotlib's `MaxNLocator(nbins=bins, steps=[1, 2,
    2.5, 5, 10])` (without its offset for ranges far from 0)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    scale = 10 ** math.floor(math.log10((high - low) / bins))
    raw = (high - low) / bins
    steps = [s * scale for s in _STEPS]
    first = next((i for i, s in enumerate(steps) if s >= raw), len(steps) - 1)
    found: list[float] = []
    for step in reversed(steps[: first + 1]):
        base = (low // step) * step
        start = _edge(low - base, step, up=False)
        stop = _edge(high - base, step, up=True)
        found = [base + k * step for k in range(start, stop + 1)]
        if sum(low <= t <= high for t in found) >= 2:
            break
    return [t for t in found if low - 1e-9 * (high - low) <= t <= high + 1e-9 * (high - low)]


def _edge(x: float, step: float, *, up: bool) -> int:
    """How many steps fit in x, rounded down (or up), forgiving float error (matplotlib's `_Edge_integer`)."""
    d, m = divmod(x, step)
    close = abs(m / step) < 1e-10 if up else abs(m / step - 1) < 1e-10
    if up:
        return int(d) if close else int(d) + 1
    return int(d) + 1 if close else int(d)


def log_ticks(low: float, high: float) -> list[float]:
    """Decades within [low, high], with 2 and 5 between them when the range spans at most 2.5 decades."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    marks = [1.0] if math.log10(high / low) > 2.5 else [1.0, 2.0, 5.0]
    found = [m * 10.0**e for e in range(first, last + 1) for m in marks]
    return [t for t in found if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]


@dataclass(frozen=True)
class Scale:
    """Data values onto pixels: linear or log, `low..high` onto `start..end`."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    @classmethod
    def around(
        cls, values: Sequence[float], start: float, end: float, *, log: bool = False, pad: float = 0.05
    ) -> Scale:
        """A scale over `values` with a margin of `pad` of the range at each end."""
        finite = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
        if not finite:
            return cls(0.0, 1.0, start, end)
        low, high = min(finite), max(finite)
        if log:
            low, high = math.log10(low), math.log10(high)
        if high == low:
            spread = abs(low) * 0.05 or 0.5
            low, high = low - spread, high + spread
        margin = (high - low) * pad
        low, high = low - margin, high + margin
        return cls(10**low, 10**high, start, end, log) if log else cls(low, high, start, end)

    def __call__(self, value: float) -> float:
        if self.log:
            low, high, value = math.log10(self.low), math.log10(self.high), math.log10(value)
        else:
            low, high = self.low, self.high
        return self.start + (value - low) / (high - low) * (self.end - self.start)

    def ticks(self) -> list[float]:
        return log_ticks(self.low, self.high) if self.log else ticks(self.low, self.high)


@dataclass
class Text:
    """Outside text for a figure: shown, escaped, and past `limit` characters shortened to
    `prefix…#k`, its full value kept as the k-th entry of `shortened` (for the page's table)."""

    shortened: dict[str, str] = field(default_factory=dict)

    def __call__(self, value: object, limit: int = 24) -> str:
        """The text as SVG character data, with a tooltip when shortened."""
        full = visible(value)
        if len(full) <= limit:
            return html.escape(full)
        key = self.shortened.setdefault(full, f"{full[: max(1, limit - 4)]}…#{len(self.shortened) + 1}")
        tip = full if len(full) <= TOOLTIP_CHARS else full[:TOOLTIP_CHARS] + "…"
        return f"<title>{html.escape(tip)}</title>{html.escape(key)}"


def text(x: float, y: float, body: str, size: float = 8, anchor: str = "middle", extra: str = "") -> str:
    """A `<text>` at (x, y) whose `body` is already escaped (see `Text`)."""
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>{body}</text>'


def dots(points: Sequence[tuple[float, float]], size: float, colour: str, opacity: float, gid: str = "") -> str:
    """Many dots as one path of short round-capped strokes: ~16 bytes a dot. (Each stroke is 0.1 px
    long, not 0: a browser measures a path's box without its stroke, and a dot must have one.)"""
    d = "".join(f"M{x:.1f} {y:.1f}h.1" for x, y in points if math.isfinite(x) and math.isfinite(y))
    ident = f' id="{gid}"' if gid else ""
    return (
        f'<path{ident} d="{d or "M0 0"}" stroke="{colour}" stroke-width="{size}" stroke-linecap="round" '
        f'stroke-opacity="{opacity}" fill="none"/>'
    )


@dataclass(frozen=True)
class Panel:
    """One panel's plot area in the figure: left, top, width, height in pixels."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Layout:
    """A figure of `count` panels, 4 a row: each `width` × `height` pixels with its margins."""

    count: int
    width: float = 320
    height: float = 250
    margins: tuple[float, float, float, float] = (52, 24, 14, 42)
    """left, top, right, bottom."""
    header: float = 0
    """Room above the panels (a legend)."""

    @property
    def cols(self) -> int:
        return min(4, max(1, self.count))

    def panel(self, p: int) -> Panel:
        left, top, right, bottom = self.margins
        x, y = (p % self.cols) * self.width, self.header + (p // self.cols) * self.height
        return Panel(x + left, y + top, self.width - left - right, self.height - top - bottom)

    def svg(self, body: Sequence[str]) -> str:
        rows = math.ceil(max(1, self.count) / self.cols)
        w, h = self.cols * self.width, self.header + rows * self.height
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}" '
            f'font-family="DejaVu Sans,Arial,sans-serif" fill="#222">{"".join(body)}</svg>'
        )


def frame(
    panel: Panel,
    title: str,
    xlabel: str,
    xs: Sequence[tuple[float, str]],
    ys: Sequence[tuple[float, str]],
    *,
    rotate: bool = False,
    grid: bool = True,
) -> str:
    """The panel's box, grid lines, ticks with their (escaped) labels, title and x label."""
    parts = [
        f'<rect x="{panel.left:.1f}" y="{panel.top:.1f}" width="{panel.width:.1f}" height="{panel.height:.1f}" '
        'fill="none" stroke="#444" stroke-width="0.8"/>'
    ]
    lines = []
    for x, label in xs:
        lines.append(f"M{x:.1f} {panel.bottom:.1f}v4")
        if grid:
            lines.append(f"M{x:.1f} {panel.top:.1f}V{panel.bottom:.1f}")
        if rotate:
            y = panel.bottom + 10
            parts.append(text(x, y, label, 8, "end", f' transform="rotate(-30 {x:.1f} {y:.1f})"'))
        else:
            parts.append(text(x, panel.bottom + 14, label))
    for y, label in ys:
        lines.append(f"M{panel.left - 4:.1f} {y:.1f}H{panel.left:.1f}")
        if grid:
            lines.append(f"M{panel.left:.1f} {y:.1f}H{panel.right:.1f}")
        parts.append(text(panel.left - 6, y + 3, label, 8, "end"))
    parts.insert(0, f'<path d="{"".join(lines)}" stroke="#ccc" stroke-width="0.6" fill="none"/>')
    parts.append(text(panel.left + panel.width / 2, panel.top - 8, title, 10))
    below = panel.bottom + (72 if rotate else 30)  # below the slanted labels (24 characters at 30°)
    parts.append(text(panel.left + panel.width / 2, below, xlabel, 8))
    return "".join(parts)


def legend(title: str, labels: Sequence[tuple[str, int]], width: float) -> tuple[str, float]:
    """A legend strip above the panels (each label escaped, with its length shown): its SVG and height."""
    parts = [text(8, 14, title, 8, "start", ' font-weight="bold"')] if title else []
    shown = re.sub(r"<title>.*?</title>", "", title)
    x, y = 8 + (len(shown) * 5.5 + 10 if title else 0), 14.0
    for j, (label, length) in enumerate(labels):
        span = 24 + 5 * length
        if x + span > width and x > 8:
            x, y = 8.0, y + 14
        colour = COLOURS[j % len(COLOURS)]
        parts.append(f'<path d="M{x:.1f} {y - 3:.1f}h12" stroke="{colour}" stroke-width="2"/>')
        parts.append(text(x + 16, y, label, 8, "start"))
        x += span
    return "".join(parts), y + 8
