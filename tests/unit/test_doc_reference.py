"""The reference pages list what the code has (issue 24, item 5): every shard failure code, every
column of the two tables in file order, every command of the CLI, every route of the API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer.main

from sweep_cli.main import app
from sweep_contracts import schema
from sweep_contracts.outcomes import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"


def section(text: str, heading: str) -> str:
    body = text.split(f"\n## {heading}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def first_column(text: str) -> list[str]:
    """The first cell of every body row of the markdown tables in `text`, without its backquotes."""
    cells = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    return [
        cell.strip("`") for cell in cells if cell not in ("code", "column", "command", "route") and set(cell) != {"-"}
    ]


def test_the_failure_codes_table_lists_every_error_code_once() -> None:
    listed = first_column(section((REFERENCE / "codes.md").read_text(), "Failure codes"))
    assert sorted(listed) == sorted(code.value for code in ErrorCode)
    assert len(listed) == len(set(listed))


def test_the_tables_page_lists_every_column_in_file_order() -> None:
    text = (REFERENCE / "tables.md").read_text()
    assert first_column(section(text, "`points`")) == list(schema.POINTS_TABLE.column_names)
    assert first_column(section(text, "`outcomes`")) == list(schema.OUTCOMES_TABLE.column_names)


def cli_commands() -> set[str]:
    group = typer.main.get_command(app)
    found: set[str] = set()
    for name, command in getattr(group, "commands", {}).items():
        if subcommands := getattr(command, "commands", None):
            found.update(f"{name} {sub}" for sub in subcommands)
        else:
            found.add(name)
    return found


def documented_commands(text: str) -> set[str]:
    """`sweep params set NAME VALUE …` -> `params set`: the command's words before its arguments."""
    found = set()
    for cell in first_column(text):
        words = cell.removeprefix("sweep ").split()
        found.add(" ".join(w for w in words[:2] if re.fullmatch(r"[a-z][a-z-]*", w)))
    return found


def test_the_cli_page_names_every_command_and_no_other() -> None:
    assert documented_commands((REFERENCE / "cli.md").read_text()) == cli_commands()


def test_the_api_page_names_every_route_of_the_openapi_document() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    routes = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    listed = {cell.split("?")[0] for cell in first_column((REFERENCE / "api.md").read_text())}
    assert listed == routes


def test_the_checks_see_a_missing_command_and_a_missing_code() -> None:
    # GIVEN a CLI page without `sweep rm` and a codes table without INTERRUPTED
    cli = re.sub(r"\n\| `sweep rm [^\n]*", "", (REFERENCE / "cli.md").read_text())
    codes = re.sub(r"\n\| `INTERRUPTED` [^\n]*", "", (REFERENCE / "codes.md").read_text())
    # THEN each comparison sees what is missing
    assert cli_commands() - documented_commands(cli) == {"rm"}
    listed = set(first_column(section(codes, "Failure codes")))
    assert {code.value for code in ErrorCode} - listed == {"INTERRUPTED"}
