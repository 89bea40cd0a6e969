"""The examples of the README and the guides work as written (issue 24, item 5): every sweep file
plans, the sweep-file forms plan, the error the guide shows is the error `sweep plan` gives, the
settings file is accepted, the experiment code defines an experiment, and every `uv run sweep …`
line names a command and options that exist. In process (typer's runner): nothing is run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from sweep_cli.main import app
from sweep_contracts.experiments import Experiment

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
GUIDE = ROOT / "docs" / "guide"
runner = CliRunner()


def blocks(page: Path, language: str) -> list[str]:
    """The fenced code blocks of `page` in `language` ("" for none), their indentation (of a list
    item) removed."""
    found: list[str] = []
    opened: tuple[str, str] | None = None  # (indentation, language) of the open fence
    body: list[str] = []
    for line in page.read_text().splitlines():
        fence = re.fullmatch(r"( *)```(\w*)", line)
        if fence and opened is None:
            opened, body = (fence[1], fence[2]), []
        elif fence and opened is not None and fence[1] == opened[0] and not fence[2]:
            if opened[1] == language:
                found.append("".join(f"{text.removeprefix(opened[0])}\n" for text in body))
            opened = None
        elif opened is not None:
            body.append(line)
    return found


def plan(tmp_path: Path, request: dict[str, Any], *args: str) -> tuple[int, str]:
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump(request))
    result = runner.invoke(app, ["plan", str(sweep_file), *args])
    return result.exit_code, result.output


def sweep_files() -> list[tuple[str, str]]:
    return [
        (f"{page.relative_to(ROOT)}#{n}", body)
        for page in PAGES
        for n, body in enumerate(blocks(page, "yaml"))
        if isinstance(yaml.safe_load(body), dict) and "experiment" in yaml.safe_load(body)
    ]


@pytest.mark.parametrize(("where", "body"), sweep_files(), ids=[w for w, _ in sweep_files()])
def test_every_sweep_file_of_the_docs_plans(where: str, body: str, tmp_path: Path) -> None:
    code, output = plan(tmp_path, yaml.safe_load(body))
    assert code == 0, f"{where}: {output}"


def test_the_sweep_file_page_has_its_example() -> None:
    assert [w for w, _ in sweep_files() if w.startswith("docs/guide/sweep-files.md")]


def sweep_file_forms() -> list[dict[str, Any]]:
    """The `form | example | series` table of the sweep file page, each example as a mapping."""
    rows = re.findall(r"^\| `\w+:` [^|]*\| `([^`]+)` \| `(\w+)` \|$", (GUIDE / "sweep-files.md").read_text(), re.M)
    return [yaml.safe_load(example) | {"_series": series} for example, series in rows]


@pytest.mark.parametrize("form", sweep_file_forms(), ids=lambda f: f["_series"])
def test_every_form_of_the_sweep_file_page_plans_with_the_series_it_names(form: dict[str, Any], tmp_path: Path) -> None:
    series = form.pop("_series")
    code, output = plan(tmp_path, {"experiment": "maze", "config": {"size": 21}, **form}, "--json")
    assert code == 0, output
    assert f'"{series}"' in output


def test_the_forms_table_is_read() -> None:
    assert sorted(f["_series"] for f in sweep_file_forms()) == ["grid", "points", "sample"]


def test_the_error_the_sweep_file_page_shows_is_the_one_plan_gives(tmp_path: Path) -> None:
    # GIVEN the page's example error, and its sweep file with `strategy: dfs`
    shown = [b for b in blocks(GUIDE / "sweep-files.md", "") if b.startswith("error: ")]
    assert len(shown) == 1
    request = yaml.safe_load(blocks(GUIDE / "sweep-files.md", "yaml")[0])
    request["grids"][0]["axes"] = {"strategy": ["dfs"]}
    # WHEN it is planned
    code, output = plan(tmp_path, request)
    # THEN exit 2, with the page's words
    assert code == 2
    assert " ".join(output.split()) == " ".join(shown[0].split())


def test_the_settings_file_of_the_settings_page_is_accepted(tmp_path: Path) -> None:
    (settings_file,) = [b for b in blocks(ROOT / "docs" / "operate" / "settings.md", "yaml") if "shard_size" in b]
    path = tmp_path / "settings.yaml"
    path.write_text(settings_file)
    result = runner.invoke(app, ["plan", str(ROOT / "examples" / "maze.yaml"), "--settings", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert '"shard_size": 10' in result.output


def test_the_experiment_code_of_the_guide_defines_experiments() -> None:
    namespace: dict[str, Any] = {}
    code = blocks(GUIDE / "your-experiment.md", "python")
    assert len(code) == 2
    exec(compile(code[0], "your-experiment.md", "exec"), namespace)
    first = namespace["EXPERIMENT"]
    exec(compile(code[1], "your-experiment.md", "exec"), namespace)
    batched = namespace["EXPERIMENT"]
    assert isinstance(first, Experiment)
    assert isinstance(batched, Experiment)
    assert first.run(first.config_model()) == {"accuracy": 0.91, "latency_s": 1.7}
    assert batched.run_batch is not None


def command_lines() -> list[tuple[str, list[str]]]:
    """Every `sweep …` (or `uv run sweep …`) command of a bash block, as words after `sweep`, its
    comment cut (a quoted argument may run over several lines)."""
    found = []
    for page in PAGES:
        for body in blocks(page, "bash"):
            lines = body.splitlines()
            for n, line in enumerate(lines):
                if not line.startswith(("uv run sweep ", "sweep ")):
                    continue
                text, more = line, iter(lines[n + 1 :])
                while True:
                    lexer = shlex.shlex(text.split(" < ", 1)[0], posix=True, punctuation_chars=False)
                    lexer.whitespace_split, lexer.commenters = True, "#"
                    try:
                        words = list(lexer)
                        break
                    except ValueError:  # an open quote: the command goes on on the next line
                        text += "\n" + next(more)
                found.append((f"{page.relative_to(ROOT)}: {line[:60]}", words[words.index("sweep") + 1 :]))
    return found


def options_of(words: list[str]) -> tuple[str, set[str]]:
    command: Any = typer.main.get_command(app)
    name = []
    while words and hasattr(command, "commands") and words[0] in command.commands:
        command = command.commands[words[0]]
        name.append(words.pop(0))
    assert not hasattr(command, "commands"), f"no command `sweep {' '.join(name)} {words[:1]}`"
    return " ".join(name), {opt for param in command.params for opt in param.opts}


@pytest.mark.parametrize(("where", "words"), command_lines(), ids=[w for w, _ in command_lines()])
def test_every_command_line_of_the_docs_names_a_command_and_its_options(where: str, words: list[str]) -> None:
    name, options = options_of(list(words))
    used = {word.split("=", 1)[0] for word in words if word.startswith("-") and word != "-"}
    assert sorted(used - options) == [], f"{where}: `sweep {name}` has no such option"


def test_the_command_check_sees_an_option_that_does_not_exist() -> None:
    name, options = options_of(["results", "maze-example", "--sqll", "SELECT 1"])
    assert name == "results"
    assert "--sql" in options
    assert "--sqll" not in options
    assert len(command_lines()) > 30
