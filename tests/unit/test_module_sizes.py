"""Sizes a newcomer can read (issue 24): no module of the shipped packages or the benchmarks over
500 lines, no function over 100. Before issue 24 `bench/run.py` was 641 lines and `SweepStack`'s
constructor 205; today's largest are 499 and 91. A module that outgrows the limit is split by what
its parts are (as `bench/` was into one module per benchmark), not given a higher limit."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *ROOT.glob("libs/*/src"),
    *ROOT.glob("services/*/src"),
    ROOT / "cli/src",
    ROOT / "pulumi/src",
    ROOT / "bench",
]
MODULE_LINES = 500
FUNCTION_LINES = 100


def modules() -> list[Path]:
    found = sorted(path for source in SOURCES for path in source.rglob("*.py"))
    assert len(found) > 200, found  # every package was found: a moved tree must not make this pass empty
    return found


def test_no_module_is_over_500_lines() -> None:
    sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in modules()}
    assert {name: lines for name, lines in sizes.items() if lines > MODULE_LINES} == {}


def test_no_function_is_over_100_lines() -> None:
    long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert long == {}
