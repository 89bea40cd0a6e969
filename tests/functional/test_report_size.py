"""`sweep report` of runs whose values cannot be read in full on a plot (issue 23, item 14): an
axis of 10,000 values, values of 10,000 characters. The page stays small, its labels are text
(not glyphs drawn as paths), and what a figure shortens the page gives in full, once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sweep_cli.report.page import write_report
from tests.report_runs import write_run

HOSTILE = "</text><script>alert(1)</script>"


@pytest.mark.slow
def test_an_axis_of_10000_values_draws_25_of_them_on_a_small_page_issue23(tmp_path: Path) -> None:
    # GIVEN a run whose one axis has 10,000 distinct strings (old: 42 s and a 14.7 MB page)
    values = [f"v{i}" for i in range(10_000)]  # short: a request holds at most 128 KiB
    payload = {"experiment": "synthetic", "run_id": "many", "config": {"noise": 0.0}, "grid": {"echo": values}}
    write_run(tmp_path, payload, lambda i, _: {"value": float(i % 7), "distance": 1.0})
    # WHEN its report is written
    page = write_report(tmp_path, "many", tmp_path / "many.html", ["value"]).read_text()
    # THEN the page is small, and the axis's figure draws 25 values and says how many it left out
    assert len(page.encode()) < 200_000
    assert "the 25 values with the most ok points of 10,000, 9,975 others not drawn" in page
    # (every value has one point: the first 25 in point order, as text)
    assert (">v0</text>" in page, ">v24</text>" in page) == (True, True)
    assert ">v25</text>" not in page


def test_long_values_are_shortened_in_figures_and_given_once_in_full_issue23(tmp_path: Path) -> None:
    # GIVEN values of 10,000 characters (the most synthetic's `echo` takes), one with markup, on a
    # grid with a second axis and repeats: tick labels, legends, heatmap and spread labels
    long = [chr(ord("a") + i) * 10_000 for i in range(4)] + [HOSTILE + "z" * (10_000 - len(HOSTILE))]
    payload = {
        "experiment": "synthetic",
        "run_id": "long",
        "config": {"noise": 0.0},
        "grid": {"echo": long, "x": [0.0, 0.5]},
        "repeats": 3,
    }
    write_run(tmp_path, payload, lambda i, p: {"value": float(len(str(p["echo"])) % 5) + i % 3})
    # WHEN its report is written
    page = write_report(tmp_path, "long", tmp_path / "long.html", []).read_text()
    # THEN the page stays small (old: the labels drawn glyph by glyph, megabytes)
    kinds = re.findall(r"data-kind='(\w+)'", page)
    assert kinds == ["axis", "axis", "interaction", "heatmap", "spread"]
    assert len(page.encode()) < 250_000
    # AND the figures show each value shortened, as text, its full text in the page's table once
    assert re.search(r">aaaaaaaaaaaaaaaa…#\d+</text>", page)
    assert "<h2>Values shortened in the figures</h2>" in page
    assert page.count(long[0] + "</details></td>") >= 1  # a long cell opens on a click
    # in full: the value, its two spread labels (x=0.0, x=0.5), the summary's best_params; not per panel or tick
    assert page.count(long[0]) <= 4
    # AND the markup in a value is text everywhere
    assert "<script" not in page
    assert "&lt;/text&gt;&lt;script&gt;" in page


def test_labels_are_text_not_paths_issue23(tmp_path: Path) -> None:
    # GIVEN a small grid
    payload = {"experiment": "synthetic", "run_id": "small", "config": {"noise": 0.0}, "grid": {"x": [0.1, 0.2]}}
    write_run(tmp_path, payload, lambda i, _: {"value": float(i), "distance": 1.0})
    # WHEN its report is written
    page = write_report(tmp_path, "small", tmp_path / "small.html", []).read_text()
    # THEN the metric names (titles) and the axis name are text in the SVG, no glyph is a path
    (svg,) = re.findall(r"<svg.*?</svg>", page, re.DOTALL)
    assert (">value</text>" in svg, ">distance</text>" in svg, ">x</text>" in svg) == (True, True, True)
    assert "<use" not in svg
    assert 'id="DejaVuSans' not in svg
