"""A stage's stack config file, `Pulumi.<stage>.yaml`: where it is and its `config` mapping, read
in one place for the Pulumi program (preflight, experiment packages) and the CLI (settings, region).

The YAML parser is imported when a file is read: only those two callers read one, and each depends
on pyyaml itself; the worker and the orchestrator, which never read one, do not ship it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def stack_config_path(root: Path, stage: str) -> Path:
    """Where the stack config of `stage` is, beside `Pulumi.yaml` in `root`."""
    return root / f"Pulumi.{stage}.yaml"


def stack_stages(root: Path) -> list[str]:
    """The stages that have a stack config in `root`, sorted."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml"))


def read_stack_config(root: Path, stage: str) -> dict[str, Any] | None:
    """The `config` mapping of `Pulumi.<stage>.yaml` in `root` ({} for a file without one), or None
    where there is no such file. A file that is not YAML raises the parser's error."""
    path = stack_config_path(root, stage)
    if not path.is_file():
        return None
    import yaml  # when read: `sweep --help` stays cheap

    document = yaml.safe_load(path.read_text()) or {}
    config = document.get("config") if isinstance(document, dict) else None
    return dict(config) if isinstance(config, dict) else {}
