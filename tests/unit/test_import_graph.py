"""The source tree's import graph has no cycle: every module can be read after the modules it uses.

A cycle means neither module can be understood (or imported) alone, and that the order Python
happens to import them in decides whether a name exists yet. Edges are every first-party import —
module level and inside functions (a lazy import is still a dependency) — except those under
`if TYPE_CHECKING:`, which never run."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = sorted(
    p for pattern in ("libs/*/src", "services/*/src", "cli/src", "pulumi/src") for p in ROOT.glob(pattern)
)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in SOURCE_ROOTS:
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module `tree` imports, outside `if TYPE_CHECKING:` blocks."""
    named: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            named.add(base)
            named.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return named


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = _imports(ast.parse(path.read_text(), str(path)), name, path.name == "__init__.py")
        graph[name] = {target for target in imported if target in modules and target != name}
    return graph


def test_the_graph_is_read_from_every_source_root() -> None:
    graph = import_graph()
    for package in ("sweep_contracts", "sweep_aws", "sweep_worker", "sweep_orchestrator", "sweep_cli", "sweep_infra"):
        assert package in graph, f"{package} not found under {[str(r) for r in SOURCE_ROOTS]}"
    assert "sweep_contracts.layout" in graph["sweep_worker.handler"] or any(
        t.startswith("sweep_contracts") for t in graph["sweep_worker.handler"]
    )


def test_no_import_cycle() -> None:
    sorter = graphlib.TopologicalSorter(import_graph())
    try:
        sorter.prepare()
    except graphlib.CycleError as cycle:
        raise AssertionError(
            "import cycle: " + " -> ".join(cycle.args[1]) + "\nMove what both sides need into a module "
            "neither imports from (a leaf), or invert the dependency by passing it in."
        ) from None


def test_a_cycle_is_found() -> None:
    """The check itself: a two-module cycle, and a relative import, are seen."""
    a = ast.parse("from .b import thing\n")
    b = ast.parse("def f():\n    from pkg import a\n")
    graph = {"pkg.a": _imports(a, "pkg.a", False) & {"pkg.b"}, "pkg.b": _imports(b, "pkg.b", False) & {"pkg.a"}}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    typed = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b\n")
    assert "pkg.b" not in _imports(typed, "pkg.a", False)
