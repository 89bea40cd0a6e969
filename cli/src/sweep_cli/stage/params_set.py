"""`sweep params set NAME VALUE --stage dev`: one stage setting or experiment default, with the seed
command's care — a value that exists and differs is kept without `--force`, and the table shows
what was, what is wanted and what happened.

Where the stage's API is known (`--endpoint`, `SWEEP_API_URL`, the stack outputs) it goes through
`PUT /settings/{name}`, SigV4-signed like `submit`: the orchestrator validates the value as a
submit would (a setting's range, an experiment default by its config model, experiments installed
on the stage included) and clears its cache. Without an API it writes SSM directly, validated by
the experiments installed here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import typer
from rich.table import Table
from rich.text import Text

from sweep_cli import render
from sweep_cli.app import handles_errors
from sweep_cli.backend import EndpointOption, RegionOption
from sweep_cli.errors import UsageError
from sweep_cli.stage.params import Action, StageParameters, StageRequired, app, aws_errors
from sweep_cli.stage.resolve import StageInfo, resolve_stage

DEFAULT_TTL_S = 300


@dataclass(frozen=True)
class Written:
    current: Any
    action: Action
    version: int | None
    where: str
    cache_ttl_s: int | None = None
    replaced: int | None = None
    """The version the write replaced, when it is not the one shown as `current` (a concurrent write)."""


@dataclass(frozen=True)
class Stored:
    """A write: the new version, the readers' cache TTL, and the version it replaced (0: none)."""

    version: int
    cache_ttl_s: int | None
    replaced: int | None = None


@dataclass(frozen=True)
class Current:
    """What the stage holds for a name: `version` 0 when it holds nothing of its own."""

    value: Any = None
    version: int = 0

    @property
    def exists(self) -> bool:
        return self.version > 0


class Setter(Protocol):
    def current(self, name: str) -> Current: ...

    def write(self, name: str, value: Any, expected_version: int) -> Stored:
        """The new version, the readers' cache TTL. `expected_version` 0: create only; N:
        replace version N only. Raises `SettingConflictError` with what the stage holds when not."""
        ...


class ApiSetter:
    """Through the stage's API: `GET /settings`, then `PUT /settings/{name}` with the version it saw."""

    def __init__(self, stage: StageInfo) -> None:
        from sweep_cli.stage.remote import StageClient

        self.client = StageClient(stage)
        self.where = f"via {stage.api_url}"

    def current(self, name: str) -> Current:
        # GET /settings may be a warm orchestrator's cached copy: it decides what to show and ask
        # for, never the write, which names the version it saw and lets SSM's state decide
        answer = self.client.request("GET", "/settings")
        if name.startswith("experiments."):
            _, experiment, key = [*name.split(".", 2), "", ""][:3]
            record = (answer.get("experiments") or {}).get(experiment, {}).get(key)
        else:
            record = (answer.get("settings") or {}).get(name)
        if not record or record.get("source") != "ssm":
            return Current()
        return Current(record.get("value"), int(record.get("version") or 0))

    def write(self, name: str, value: Any, expected_version: int) -> Stored:
        from sweep_cli.errors import RemoteError
        from sweep_cli.stage.remote import segment
        from sweep_contracts.errors import ApiCode, SettingConflictError

        try:
            answer = self.client.request(
                "PUT", f"/settings/{segment(name)}", {"value": value, "expected_version": expected_version}
            )
        except RemoteError as exc:
            current = exc.body.get("current") if isinstance(exc.body, dict) else None
            if exc.code != ApiCode.SETTING_CONFLICT or not isinstance(current, dict):
                raise
            raise SettingConflictError(
                exc.message,
                field=exc.field,
                value=exc.value,
                limit=exc.limit,
                hint=exc.hint,
                current_value=current.get("value"),
                current_version=int(current.get("version") or 0),
            ) from None
        replaced = answer.get("replaced_version")
        return Stored(int(answer["version"]), int(answer["cache_ttl_s"]), None if replaced is None else int(replaced))


class SsmSetter:
    """Straight to SSM, where no API is known: validated here, by the experiments installed here."""

    def __init__(self, stage: str, region: str | None) -> None:
        from sweep_cli.stage.params import _parameters

        self.parameters: StageParameters = _parameters(stage, region)
        self.where = f"in SSM under {self.parameters.prefix} (no API known for stage `{stage}`)"

    def _checked(self, name: str, value: Any) -> tuple[str, str]:
        from sweep_contracts.defaults import setting_parameter
        from sweep_contracts.errors import SweepError
        from sweep_contracts.experiments import Registry

        try:
            return setting_parameter(name, value, Registry.default())
        except SweepError as exc:
            raise UsageError(exc.message, field=exc.field or "NAME", value=value, hint=exc.hint) from None

    def current(self, name: str) -> Current:
        import yaml

        found = self.parameters.current(recursive=True).get(self._parameter(name))
        return Current(yaml.safe_load(found.value), found.version) if found else Current()

    def _parameter(self, name: str) -> str:
        """`experiments.maze.max_moves` is the parameter `experiments/maze/max_moves` under the prefix."""
        return name.replace(".", "/", 2) if name.startswith("experiments.") else name

    def write(self, name: str, value: Any, expected_version: int) -> Stored:
        from sweep_aws.ssm import write_parameter

        parameter, text = self._checked(name, value)
        try:
            written = write_parameter(
                self.parameters.client, self.parameters.prefix + parameter, text, expected_version, name
            )
        except aws_errors() as exc:
            raise self.parameters._fail(exc) from exc
        return Stored(written.version, DEFAULT_TTL_S, written.replaced)


def check_name(name: str) -> None:
    """NAME is a setting or an experiment default in form, checked before any request is sent."""
    from sweep_contracts.defaults import check_setting_name
    from sweep_contracts.errors import SettingsError

    try:
        check_setting_name(name)
    except SettingsError as exc:
        raise UsageError(exc.message, field="NAME", value=name, hint=exc.hint) from None


def parse_value(text: str) -> Any:
    """VALUE typed as YAML, as `--set` overrides are: `800` is a number, `wall-follower` a string."""
    import yaml  # when a value is parsed: `sweep --help` stays cheap

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(
            f"VALUE `{text}` is not a YAML value: {str(exc).splitlines()[0]}",
            field="VALUE",
            value=text,
            hint="quote a string that looks like YAML, e.g. sweep params set NAME \"'a: b'\".",
        ) from None


def set_one(setter: Setter, name: str, value: Any, force: bool) -> Written:
    """Decide from what the stage holds, and write on the condition that it still holds it: a
    create only creates, an overwrite replaces only the version it was shown. A refused write
    reports what the stage holds now: decided once more from that, then a second refusal is the error."""
    from sweep_contracts.errors import SettingConflictError

    where = str(getattr(setter, "where", ""))
    found = setter.current(name)
    for attempt in range(2):
        if found.exists and _same(found.value, value):
            return Written(found.value, "unchanged", None, where)
        if found.exists and not force:
            return Written(found.value, "kept", None, where)
        try:
            stored = setter.write(name, value, found.version)
        except SettingConflictError as exc:
            if attempt:
                raise
            found = Current(exc.current_value, exc.current_version)
            continue
        action: Action = "overwrite" if found.exists else "create"
        replaced = stored.replaced if stored.replaced not in (None, found.version) else None
        return Written(found.value, action, stored.version, where, stored.cache_ttl_s, replaced)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON: `true` is not `1`, `1.0` is not `1`."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _setter(stage: str, endpoint: str | None, region: str | None) -> Setter:
    try:
        return ApiSetter(resolve_stage(stage, endpoint, region))
    except UsageError as exc:
        if not exc.message.startswith("no endpoint"):
            raise
    return SsmSetter(stage, region)


@app.command("set")
@handles_errors
def params_set(
    name: Annotated[
        str, typer.Argument(help="A stage setting (max_points) or an experiment default (experiments.maze.max_moves).")
    ],
    value: Annotated[str, typer.Argument(help="The value, typed as YAML (800, wall-follower, [1, 2]).")],
    stage: StageRequired,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a value that differs (without: keep it).")] = False,
    endpoint: EndpointOption = None,
    region: RegionOption = None,
) -> None:
    """Set one stage setting or experiment default through the stage's API (else SSM); keeps a value that
    differs unless --force."""
    check_name(name)
    wanted = parse_value(value)
    written = set_one(_setter(stage, endpoint, region), name, wanted, force)
    render.out.print(f"stage {stage}, {written.where}", soft_wrap=True)
    table = Table(header_style="bold")
    for column in ("setting", "was", "wanted", "action", "version"):
        table.add_column(column)
    styles = {"create": "green", "overwrite": "yellow", "kept": "red", "unchanged": "dim"}
    was = render.cell("" if written.action == "create" else written.current)
    version = "" if written.version is None else str(written.version)
    action = Text(written.action, style=styles[written.action])
    table.add_row(render.shown(name), was, render.cell(wanted), action, version)
    render.out.print(table)
    if written.action == "kept":
        render.out.print(render.shown(f"{name} holds {written.current!r} and was kept; --force overwrites it."))
    elif written.version is not None:
        if written.replaced is not None:
            render.out.print(
                f"Another write landed between the version check and this one: it replaced version "
                f"{written.replaced}, not the version shown (SSM has no compare-and-set); "
                f"see what was lost with `aws ssm get-parameter-history`."
            )
        render.out.print(
            f"Runs submitted from now on use it; other warm orchestrators within {written.cache_ttl_s} s (their "
            f"cache). `pulumi up --stack {stage}` puts back what the stack config says: to keep it, set it there."
        )
