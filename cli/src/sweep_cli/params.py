"""`sweep params`: a stage's SSM parameters — seed one-off overrides, show what is set, set secrets.

The stack config (`Pulumi.<stage>.yaml`, key `sweep:settings`) is the source of truth: `pulumi up`
refreshes first and puts it back. `seed` is for one-off overrides between deployments, and for
stages whose parameters do not exist yet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from sweep_cli.errors import UsageError
from sweep_contracts.errors import SettingsError
from sweep_contracts.request import AXIS_PATTERN
from sweep_contracts.settings import SECRET_PLACEHOLDER, SECRETS_PATH, SystemSettings

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

Action = Literal["create", "unchanged", "overwrite", "kept"]


@dataclass(frozen=True)
class Change:
    name: str
    current: str | None
    wanted: str
    action: Action


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    version: int
    modified: datetime
    secure: bool


def stack_settings(stage: str, directory: Path | None) -> dict[str, Any]:
    """`sweep:settings` from `Pulumi.<stage>.yaml`, or {} where there is no such file."""
    if directory is None or not (directory / f"Pulumi.{stage}.yaml").is_file():
        return {}
    config = yaml.safe_load((directory / f"Pulumi.{stage}.yaml").read_text()) or {}
    settings = (config.get("config") or {}).get("sweep:settings") or {}
    if not isinstance(settings, dict):
        raise UsageError(f"`sweep:settings` in Pulumi.{stage}.yaml is not a mapping.", field="sweep:settings")
    return settings


def parse_assignments(assignments: list[str]) -> dict[str, int]:
    """`NAME=VALUE` pairs, each a known setting with a valid value."""
    values: dict[str, int] = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            raise UsageError(
                f"`--set {assignment}` is not NAME=VALUE.",
                field="--set",
                value=assignment,
                hint=f"e.g. --set max_points=500000; settings: {', '.join(SystemSettings.names())}.",
            )
        values[name.strip()] = SystemSettings.check_value(name.strip(), value.strip())
    return values


def wanted_values(stage_settings: Mapping[str, Any], overrides: Mapping[str, int]) -> dict[str, str]:
    """Every setting: the override, else the stack config's value, else the built-in default."""
    try:
        base = SystemSettings.resolve(stage_settings, source="file", strict=True).values()
    except SettingsError as exc:
        raise UsageError(
            f"the stack config's `sweep:settings` is wrong: {exc.message}",
            field=exc.field,
            value=exc.value,
            hint=exc.hint,
        ) from None
    return {name: str(overrides.get(name, value)) for name, value in base.items()}


class StageParameters:
    """The parameters under one stage's prefix."""

    def __init__(self, client: SSMClient, prefix: str) -> None:
        self.client = client
        self.prefix = "/" + prefix.strip("/") + "/"

    def _fail(self, exc: Exception) -> UsageError:
        return UsageError(
            f"SSM refused: {exc}",
            field="--stage",
            hint="check your AWS credentials and region, and that you may use SSM under "
            f"{self.prefix} (ssm:GetParametersByPath, ssm:PutParameter).",
        )

    def current(self, recursive: bool = False) -> dict[str, Parameter]:
        found: dict[str, Parameter] = {}
        try:
            for page in self.client.get_paginator("get_parameters_by_path").paginate(
                Path=self.prefix, Recursive=recursive, WithDecryption=False
            ):
                for p in page.get("Parameters", []):
                    name = p["Name"][len(self.prefix) :]
                    found[name] = Parameter(
                        name, p["Value"], p["Version"], p["LastModifiedDate"], p["Type"] == "SecureString"
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc) from exc
        return found

    def plan(self, wanted: Mapping[str, str], force: bool) -> list[Change]:
        existing = self.current()
        changes = []
        for name, value in wanted.items():
            now = existing[name].value if name in existing else None
            action: Action
            if now is None:
                action = "create"
            elif now == value:
                action = "unchanged"
            else:
                action = "overwrite" if force else "kept"
            changes.append(Change(name, now, value, action))
        return changes

    def apply(self, changes: list[Change]) -> None:
        described = SystemSettings.describe()
        for change in changes:
            if change.action not in ("create", "overwrite"):
                continue
            try:
                self.client.put_parameter(
                    Name=self.prefix + change.name,
                    Value=change.wanted,
                    Type="String",
                    Overwrite=change.action == "overwrite",
                    Description=str(described[change.name]["description"]),
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc) from exc

    def set_secret(self, name: str, value: str) -> int:
        import re

        if not re.match(AXIS_PATTERN, name):
            raise UsageError(
                f"`{name}` is not a secret name.",
                field="NAME",
                value=name,
                hint="use letters, digits, `_`, `.` or `-`, as the experiment declares it.",
            )
        if not value or value == SECRET_PLACEHOLDER:
            raise UsageError(
                "the secret's value is empty.", field="value", hint="pipe it in: … | sweep params set-secret NAME"
            )
        try:
            answer = self.client.put_parameter(
                Name=f"{self.prefix}{SECRETS_PATH}{name}", Value=value, Type="SecureString", Overwrite=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc) from exc
        return int(answer["Version"])
