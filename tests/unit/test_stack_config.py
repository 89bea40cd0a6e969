"""`Pulumi.<stage>.yaml` is read in one place (`sweep_contracts.stack_config`), for the Pulumi
program and the CLI alike (issue 24)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from sweep_contracts.stack_config import read_stack_config, stack_config_path, stack_stages

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*ROOT.glob("cli/src/**/*.py"), *ROOT.glob("pulumi/src/**/*.py"), *ROOT.glob("libs/*/src/**/*.py")]
SOURCES += [*ROOT.glob("services/*/src/**/*.py")]


def test_the_config_of_a_stack_is_the_files_config_mapping() -> None:
    # GIVEN the repository's dev stack config
    expected = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    # THEN the loader reads its `config` mapping, and lists the stages with a file
    assert read_stack_config(ROOT, "dev") == expected
    assert stack_config_path(ROOT, "dev") == ROOT / "Pulumi.dev.yaml"
    assert "dev" in stack_stages(ROOT)


def test_a_missing_file_is_none_and_one_without_config_is_empty(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.empty.yaml").write_text("")
    (tmp_path / "Pulumi.bare.yaml").write_text("encryptionsalt: abc\n")
    assert read_stack_config(tmp_path, "absent") is None
    assert read_stack_config(tmp_path, "empty") == {}
    assert read_stack_config(tmp_path, "bare") == {}
    assert stack_stages(tmp_path) == ["bare", "empty"]


def test_no_other_module_opens_a_stack_config() -> None:
    # GIVEN every source module but the loader
    opened = re.compile(
        r"""Pulumi\.\{[a-z_]+\}\.yaml["']?\)?\.(read_text|open|is_file)|f["']Pulumi\.\{[a-z_]+\}\.yaml["']\)"""
    )
    readers = [
        str(path.relative_to(ROOT))
        for path in SOURCES
        if path.name != "stack_config.py" and opened.search(path.read_text())
    ]
    # THEN none of them builds the file's path to read it
    assert readers == []
