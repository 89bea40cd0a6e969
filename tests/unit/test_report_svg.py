"""The report's drawing kit (`sweep_cli.report.svg`) against matplotlib, which drew the figures
before (issue 23): the same tick values and the same viridis; and its text handling."""

from __future__ import annotations

import re

import pytest
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from matplotlib.ticker import MaxNLocator

from sweep_cli.report.data import top_values
from sweep_cli.report.intervals import Estimate
from sweep_cli.report.svg import Scale, Text, dots, ticks, viridis

RANGES = [
    (0.0, 1.0),
    (-0.2, 0.7),
    (0.0012, 0.0057),
    (3.0, 3.0001),
    (-1500.0, 42.0),
    (11.0, 41.0),
    (0.913, 0.9552),
    (-7.5e-5, 2.2e-4),
    (1.0, 80.0),
    (0.0, 1999.0),
]


@pytest.mark.parametrize(("low", "high"), RANGES)
def test_ticks_are_matplotlibs(low: float, high: float) -> None:
    expected = [t for t in MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high) if low <= t <= high]
    assert ticks(low, high) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_viridis_is_matplotlibs() -> None:
    for i in range(41):
        t = i / 40
        ours = to_rgb(viridis(t))
        theirs = colormaps["viridis"](t)[:3]
        assert ours == pytest.approx(theirs, abs=6 / 255), t


def test_log_scale_ticks_are_decades_or_1_2_5() -> None:
    assert Scale(1.0, 1000.0, 0, 100, log=True).ticks() == [1.0, 10.0, 100.0, 1000.0]
    assert Scale(0.8, 90.0, 0, 100, log=True).ticks() == [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]


def test_text_escapes_shortens_and_keeps_the_full_value_once() -> None:
    names = Text()
    # markup and a control character are text
    assert names("<b>&\x1b") == "&lt;b&gt;&amp;\\x1b"
    long = "</text><script>" + "a" * 1000
    first = names(long, 20)
    # shortened to 20 characters with its number, the tooltip bounded, the full value kept once
    assert re.fullmatch(r"<title>&lt;/text&gt;&lt;script&gt;a+…</title>&lt;/text&gt;&lt;script&gt;a…#1", first)
    assert names(long, 20) == first
    assert names.shortened == {long: "</text><script>a…#1"}
    assert len(names("b" * 1000, 20).split("</title>")[0]) < 250


def test_dots_have_a_box_a_browser_can_measure() -> None:
    # a dot is a 0.1 px stroke, not 0: a zero-length path has an empty bounding box
    assert 'd="M1.0 2.0h.1M3.5 4.0h.1"' in dots([(1, 2), (3.5, 4), (float("nan"), 1)], 3, "#000", 1, "sw-point-f1-0")


def test_top_values_keeps_the_most_populated_categories() -> None:
    def e(n: int) -> dict[str, Estimate]:
        return {"m": Estimate(1.0, 1.0, 1.0, n)}

    line = ("", {"a": e(1), "b": e(5), "c": e(1), "d": e(3)})
    kept, total = top_values([line], limit=2)
    assert (list(kept[0][1]), total) == (["b", "d"], 4)
    # numbers are never cut: they are a scale, not labels
    numbers = ("", {str(i): e(1) for i in range(100)})
    assert top_values([numbers], limit=2) == ([numbers], 100)
