"""A sweep error's fix travels in its `hint=`, not inside its message.

`SweepError` renders `message`, then `hint_label` and `hint` (`str(error)`), and the API answers
each as its own JSON field (`to_dict()`): a client, the CLI's error panel and a test can each show
or check the fix apart from what failed. A fix written into the message is invisible to all of
them. This walks the source (no import): every construction of a `SweepError` subclass whose
message — a string, an f-string, a concatenation, or a module constant it names — holds a clause
that starts with an imperative (`HINT_VERBS`) or a fix label (`HINT_LABELS`) fails, unless it is
in `ALLOWED`, with the reason beside it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = sorted(
    p for pattern in ("libs/*/src", "services/*/src", "cli/src", "pulumi/src") for p in ROOT.glob(pattern)
)

HINT_VERBS = ("use", "set", "run", "add", "pass", "remove", "create", "rebuild", "refresh", "install", "log in")
"""Imperatives that open a fix ("…: run `aws configure`", "…. Remove it with …"): those that
messages of this project used. Counted only where a clause starts (after `.`, `:` or `;`), since a
message may start with a noun that is spelled the same ("run `x` already exists")."""
HINT_LABELS = ("fix:", "fix it with", "hint:")
"""Labels that introduce a fix anywhere in the text; `hint_label` renders them from `hint=`."""
_HINT = re.compile(
    r"(?:[.:;]\s+(?:" + "|".join(HINT_VERBS) + r")\b)|(?:" + "|".join(map(re.escape, HINT_LABELS)) + ")",
    re.IGNORECASE,
)

ALLOWED: dict[str, str] = {
    # "path/inside/repo.py:function": why its message must carry the fix itself
}


def _trees() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), str(path)) for root in SOURCE_ROOTS for path in root.rglob("*.py")}


def _sweep_errors(trees: dict[Path, ast.Module]) -> set[str]:
    """The names of `SweepError` and every class defined under it, by the names of their bases."""
    bases: dict[str, set[str]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                named = {
                    b.id if isinstance(b, ast.Name) else b.attr
                    for b in node.bases
                    if isinstance(b, ast.Name | ast.Attribute)
                }
                bases.setdefault(node.name, set()).update(named)
    errors = {"SweepError"}
    while grown := {name for name, of in bases.items() if name not in errors and of & errors}:
        errors |= grown
    return errors


def _constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level `NAME = <expr>`: a message may name a constant that holds its text."""
    found: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node.value
    return found


def _text(node: ast.expr, constants: dict[str, ast.expr]) -> str:
    """The literal text of a message, with `{…}` for what only runs at run time."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(part, constants) for part in node.values)
    if isinstance(node, ast.FormattedValue):
        return _text(node.value, constants)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, constants) + _text(node.right, constants)
    if isinstance(node, ast.Name) and node.id in constants:
        return _text(constants[node.id], {})
    return "{…}"


def _message(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "message"), None)


def _enclosing_functions(tree: ast.Module) -> dict[ast.AST, str]:
    owner: dict[ast.AST, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):  # breadth first: a nested function's own name comes last and wins
                if inner is not node:
                    owner[inner] = node.name
    return owner


def inlined_hints() -> list[str]:
    """`path:line: Error: the clause` for every sweep error whose message carries its fix."""
    trees = _trees()
    errors = _sweep_errors(trees)
    found: list[str] = []
    for path, tree in trees.items():
        constants = _constants(tree)
        owners = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            message = _message(node)
            if name not in errors or message is None:
                continue
            text = _text(message, constants)
            where = f"{path.relative_to(ROOT)}:{owners.get(node, '<module>')}"
            if (match := _HINT.search(text)) and where not in ALLOWED:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}: …{text[match.start() :][:80]}")
    return sorted(found)


def test_no_sweep_error_inlines_its_fix_into_its_message() -> None:
    # GIVEN every construction of a sweep error in the source
    # WHEN their messages are read
    found = inlined_hints()
    # THEN none carries its fix: it goes to `hint=` (rendered after the message by `hint_label`)
    assert found == [], "move the fix into `hint=`:\n" + "\n".join(found)


def test_the_walk_finds_an_inlined_fix() -> None:
    # GIVEN messages that carry their fix in each way the walk knows, and ones that do not
    carried = ["no AWS credentials found: run `aws configure`.", "it is stale. Remove it with: x", "bad. Fix: y"]
    clean = ["run `r1` already exists with other content.", "`X` is not set, so the worker cannot start."]
    # THEN the first are found and the others are not
    assert [bool(_HINT.search(text)) for text in carried + clean] == [True, True, True, False, False]


def test_the_walk_reads_the_message_of_a_constant_and_an_f_string() -> None:
    # GIVEN a module whose error names a constant that holds its fix, inside an f-string
    tree = ast.parse('FIX = "install it: run `make`"\nraise SweepError(f"no tool: {FIX}")\n')
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call))
    # THEN the text read is the constant's
    assert _text(_message(call) or ast.Constant(""), _constants(tree)) == "no tool: install it: run `make`"
