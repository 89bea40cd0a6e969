"""`sweep params`: a stage's SSM parameters — seed one-off overrides, show what is set, set secrets.

The stack config (`Pulumi.<stage>.yaml`, key `sweep:settings`) is the source of truth: `pulumi up`
refreshes first and puts it back. `seed` is for one-off overrides between deployments, and for
stages whose parameters do not exist yet."""

from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table
from rich.text import Text

from sweep_cli import render
from sweep_cli.app import handles_errors
from sweep_cli.backend import RegionOption
from sweep_cli.errors import CredentialsError, ServiceError, UsageError
from sweep_cli.stage.resolve import pulumi_dir, stage_region
from sweep_contracts import environment
from sweep_contracts.errors import SettingsError
from sweep_contracts.names import AXIS_PATTERN
from sweep_contracts.stack_config import read_stack_config

# sweep_contracts.settings (pydantic) is imported by the functions that use it: `sweep --help` stays cheap

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

Action = Literal["create", "unchanged", "overwrite", "kept"]


def aws_errors() -> tuple[type[Exception], ...]:
    """The errors of an SSM call; botocore is imported when a call fails, so `sweep --help` does not pay for it."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


@dataclass(frozen=True)
class Change:
    name: str
    current: str | None
    wanted: str
    action: Action
    version: int = 0
    """The version `current` was read at (0: none): an overwrite replaces that version only."""


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    version: int
    modified: datetime
    secure: bool


def stack_settings(stage: str, directory: Path | None) -> dict[str, Any]:
    """`sweep:settings` from `Pulumi.<stage>.yaml`, or {} where there is no such file."""
    config = read_stack_config(directory, stage) if directory is not None else None
    if config is None:
        return {}
    settings = config.get("sweep:settings") or {}
    if not isinstance(settings, dict):
        raise UsageError(
            f"`sweep:settings` in Pulumi.{stage}.yaml is {type(settings).__name__}, not a mapping.",
            field="sweep:settings",
            hint=f"set each setting with `pulumi config set --path sweep:settings.NAME VALUE --stack {stage}`.",
        )
    if str(config.get("sweep:ssmHighThroughput", "")).lower() == "true":
        # the stack turns Parameter Store's higher throughput on and seeds the setting (sweep_infra.config)
        settings = {**settings, "ssm_high_throughput": 1}
    return settings


def parse_assignments(assignments: list[str]) -> dict[str, int]:
    """`NAME=VALUE` pairs, each a known setting with a valid value."""
    from sweep_contracts.settings import SystemSettings

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
    from sweep_contracts.settings import SystemSettings

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
        from sweep_contracts.settings import normalise_prefix

        self.client = client
        self.prefix = normalise_prefix(prefix)

    def _fail(self, exc: Exception) -> ServiceError | CredentialsError:
        from botocore.exceptions import NoCredentialsError

        if isinstance(exc, NoCredentialsError):  # the caller's to fix, as for `submit`: exit 2
            return CredentialsError(
                "No AWS credentials were found to call SSM.",
                field="credentials",
                hint="configure credentials (`aws configure`, AWS_PROFILE, or environment variables) for an "
                f"identity allowed to read and write SSM parameters under {self.prefix}.",
            )
        return ServiceError(
            f"SSM refused the call: {exc}",
            field="--stage",
            value=self.prefix,
            hint="check your AWS credentials and region, and that you may use SSM under "
            f"{self.prefix} (ssm:GetParametersByPath, ssm:PutParameter), then run the command again.",
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
        except aws_errors() as exc:
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
            changes.append(Change(name, now, value, action, existing[name].version if name in existing else 0))
        return changes

    def apply(self, changes: list[Change]) -> None:
        from sweep_aws.ssm import write_parameter
        from sweep_contracts.settings import SystemSettings

        described = SystemSettings.describe()
        for change in changes:
            if change.action not in ("create", "overwrite"):
                continue
            try:
                # on the state that was read and shown: a create only creates, an overwrite replaces
                # only the version shown (`SettingConflictError`, exit 2, when another write came first)
                write_parameter(
                    self.client,
                    self.prefix + change.name,
                    change.wanted,
                    change.version if change.action == "overwrite" else 0,
                    change.name,
                    description=str(described[change.name]["description"]),
                )
            except aws_errors() as exc:
                raise self._fail(exc) from exc

    def set_secret(self, name: str, value: str) -> int:
        from sweep_contracts.settings import SECRET_PLACEHOLDER, secrets_prefix

        if not re.fullmatch(AXIS_PATTERN, name):
            raise UsageError(
                f"`{name}` is not a secret name.",
                field="NAME",
                value=name,
                hint="use letters, digits, `_`, `.` or `-`, as the experiment declares it.",
            )
        if not value or value == SECRET_PLACEHOLDER:
            raise UsageError(
                "the secret's value is empty.",
                field="value",
                hint="pipe the value in: … | sweep params set-secret NAME",
            )
        try:
            answer = self.client.put_parameter(
                Name=secrets_prefix(self.prefix) + name, Value=value, Type="SecureString", Overwrite=True
            )
        except aws_errors() as exc:
            raise self._fail(exc) from exc
        return int(answer["Version"])


# --- commands: `sweep params …` ---------------------------------------------------------------

app = typer.Typer(
    help="A stage's SSM parameters: seed one-off overrides, show what is set, set experiment secrets.",
    no_args_is_help=True,
)
StageRequired = Annotated[str, typer.Option("--stage", "-s", envvar=environment.STAGE, help="The stage (dev, prod).")]


def _parameters(stage: str, region: str | None) -> StageParameters:
    from sweep_aws.clients import ssm_client
    from sweep_contracts.settings import parameter_prefix

    return StageParameters(ssm_client(region_name=stage_region(stage, region)), parameter_prefix(stage))


@app.command("seed")
@handles_errors
def params_seed(
    stage: StageRequired,
    assignments: Annotated[
        list[str] | None, typer.Option("--set", help="NAME=VALUE, repeatable (default: the stack config's values).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite values that differ (without: keep them).")] = False,
    region: RegionOption = None,
) -> None:
    """Write the stage's settings to SSM: the stack config's values (Pulumi.<stage>.yaml), or --set ones."""
    overrides = parse_assignments(assignments or [])
    parameters = _parameters(stage, region)
    changes = parameters.plan(wanted_values(stack_settings(stage, pulumi_dir()), overrides), force)
    parameters.apply(changes)
    table = Table(title=f"{parameters.prefix}", title_justify="left", header_style="bold")
    for column in ("setting", "was", "wanted", "action"):
        table.add_column(column)
    styles = {"create": "green", "overwrite": "yellow", "kept": "red", "unchanged": "dim"}
    for change in changes:
        table.add_row(
            render.shown(change.name),
            render.shown(change.current or ""),
            render.shown(change.wanted),
            Text(change.action, style=styles[change.action]),
        )
    render.out.print(table)
    kept = [c.name for c in changes if c.action == "kept"]
    if kept:
        render.out.print(
            render.shown(
                f"{len(kept)} existing value(s) differ and were kept ({', '.join(kept)}); --force overwrites them."
            )
        )
    render.out.print(
        f"Note: `pulumi up --stack {stage}` puts the stack config's values back (Pulumi.yaml: refresh: always); "
        "to keep a value, set it in the stack config: pulumi config set --path sweep:settings.NAME VALUE"
    )


@app.command("show")
@handles_errors
def params_show(stage: StageRequired, region: RegionOption = None) -> None:
    """Show the stage's parameters: value, version, last change, and whether it matches the stack config."""
    parameters = _parameters(stage, region)
    current = parameters.current(recursive=True)
    declared = wanted_values(stack_settings(stage, pulumi_dir()), {})
    table = Table(title=f"{parameters.prefix}", title_justify="left", header_style="bold")
    for column in ("parameter", "value", "version", "modified", "stack config"):
        table.add_column(column)
    for name, p in sorted(current.items()):
        value = "(SecureString, hidden)" if p.secure else p.value
        if p.secure:
            note = ""
        elif name not in declared:
            note = "not a setting"
        else:
            note = "matches" if declared[name] == p.value else f"differs: {declared[name]}"
        cells = (render.shown(name), render.shown(value), str(p.version), render.shown(note))
        table.add_row(*cells[:3], render.cell(p.modified.replace(microsecond=0)), cells[3])
    for name in sorted(set(declared) - set(current)):
        table.add_row(render.shown(name), Text("missing", style="red"), "", "", render.shown(f"wants {declared[name]}"))
    render.out.print(table)


@app.command("set-secret")
@handles_errors
def params_set_secret(
    name: Annotated[str, typer.Argument(help="The secret's name, as the experiment declares it.")],
    stage: StageRequired,
    region: RegionOption = None,
) -> None:
    """Give an experiment secret its value (a SecureString), read from stdin or a hidden prompt — never
    from the command line, so it stays out of shell history and process lists."""
    value = sys.stdin.read().strip() if not sys.stdin.isatty() else getpass.getpass(f"value of {name}: ")
    version = _parameters(stage, region).set_secret(name, value)
    render.out.print(f"{name} set (version {version}); the worker reads it within 5 minutes (its cache).")
