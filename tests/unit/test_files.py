"""Reading sweep files: YAML details that bite, and errors that point at the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweep_cli.errors import SweepFileError
from sweep_cli.files import load_sweep


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return str(path)


def test_exponent_floats_are_numbers(tmp_path: Path) -> None:
    data = load_sweep(write(tmp_path, "experiment: x\nconfig: {lr: 1e-5, big: 2E+3, plain: 1.5, n: 3}\n"))
    assert data["config"] == {"lr": 1e-5, "big": 2000.0, "plain": 1.5, "n": 3}


def test_duplicate_keys_are_an_error_with_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "experiment: x\nconfig: {a: 1}\nexperiment: y\n")
    with pytest.raises(SweepFileError) as info:
        load_sweep(path)
    assert info.value.message == f"{path} line 3, column 1: key 'experiment' appears twice (first on line 1)."


def test_syntax_errors_name_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "experiment: x\nconfig:\n  a: 1\n   b: 2\n")
    with pytest.raises(SweepFileError) as info:
        load_sweep(path)
    assert info.value.message.startswith(f"{path} line 4, column")


@pytest.mark.parametrize(("text", "what"), [("", "nothing"), ("- a\n- b\n", "list")])
def test_a_sweep_file_must_be_a_mapping(tmp_path: Path, text: str, what: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SweepFileError, match=f"holds {what}, not a sweep"):
        load_sweep(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SweepFileError) as info:
        load_sweep(str(tmp_path / "nope.yaml"))
    assert info.value.field == "FILE"
