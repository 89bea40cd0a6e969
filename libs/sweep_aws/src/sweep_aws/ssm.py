"""Stage settings, experiment defaults and experiment secrets from SSM Parameter Store, cached.

Settings are String parameters directly under the stage prefix (`/sweep/<stage>/<name>`), read by
name; experiment defaults are under `<prefix>experiments/<name>/<key>` (JSON text), read with them;
secrets are SecureString parameters under `<prefix>secrets/`, read only by the worker, only when
an experiment declares them, and never logged, returned or put in an event."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from sweep_aws.clients import ssm_client
from sweep_contracts.binding import BINDINGS_PATH, BoundSecret, SecretBinding, parse_stage_binding
from sweep_contracts.errors import SecretUnavailableError, SettingConflictError
from sweep_contracts.settings import (
    EXPERIMENTS_PATH,
    SECRET_PLACEHOLDER,
    DefaultValue,
    ExperimentDefaults,
    SystemSettings,
    normalise_prefix,
    parse_value,
    secrets_prefix,
)

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger("sweep.settings")

DEFAULT_TTL_S = 300
RETRY_AFTER_FAILURE_S = 30
SET_SECRET_HINT = "give it a value with `sweep params set-secret --stage <stage> <name>`."  # noqa: S105


@dataclass(frozen=True)
class Parameter:
    """One SSM parameter as the manifest records it: its value and its version."""

    value: str
    version: int | None


def read_experiment_defaults(client: SSMClient, prefix: str) -> ExperimentDefaults:
    """Every experiment's stage defaults, `<prefix>experiments/<name>/<key>`, with their versions."""
    experiments: dict[str, dict[str, DefaultValue]] = {}
    for name, item in read_path(client, prefix + EXPERIMENTS_PATH, recursive=True).items():
        experiment, _, key = name.partition("/")
        if key and "/" not in key:
            experiments.setdefault(experiment, {})[key] = DefaultValue(
                value=parse_value(item.value), source="ssm", version=item.version
            )
    return ExperimentDefaults(experiments=experiments)


def read_bindings(client: SSMClient, prefix: str) -> dict[str, SecretBinding]:
    """Every secret's binding, `<prefix>secret-bindings/<name>` (`sweep_contracts.binding`)."""
    return {
        name: parse_stage_binding(name, item.value)
        for name, item in read_path(client, prefix + BINDINGS_PATH).items()
        if name and "/" not in name
    }


def read_path(client: SSMClient, path: str, *, recursive: bool = False) -> dict[str, Parameter]:
    """The String parameters directly under `path` (or anywhere below it, `recursive`), by name
    relative to it, with their versions.

    One paginated `GetParametersByPath` call, owned here rather than borrowed from a library's
    private method, because the versions it returns are what a run's manifest records."""
    found: dict[str, Parameter] = {}
    for page in client.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=recursive):
        for item in page.get("Parameters", []):
            version = item.get("Version")
            found[item["Name"][len(path) :].lstrip("/")] = Parameter(item["Value"], int(version) if version else None)
    return found


GET_PARAMETERS_MAX_NAMES = 10
"""`GetParameters` takes at most ten names per call."""


def read_names(client: SSMClient, prefix: str, names: Sequence[str]) -> dict[str, Parameter]:
    """The parameters `<prefix><name>` that exist, by name, with their versions.

    By name rather than by path: `GetParametersByPath` is authorized against the path asked for,
    so a role allowed to read the stage path could read everything below it, `secrets/` included
    (AWS documents no condition key that limits it to one level), whereas `GetParameters` is
    authorized per parameter and the orchestrator's role names exactly the settings."""
    found: dict[str, Parameter] = {}
    for start in range(0, len(names), GET_PARAMETERS_MAX_NAMES):
        chunk = [prefix + name for name in names[start : start + GET_PARAMETERS_MAX_NAMES]]
        for item in client.get_parameters(Names=chunk).get("Parameters", []):
            version = item.get("Version")
            found[item["Name"][len(prefix) :]] = Parameter(item["Value"], int(version) if version else None)
    return found


class SsmSettings:
    """The stage settings: SSM values over the built-in defaults, cached for `ttl_s` seconds.

    When SSM cannot be read (throttled, unreachable, access denied), the defaults apply and every
    setting's provenance says why; SSM is tried again after `RETRY_AFTER_FAILURE_S`."""

    def __init__(
        self,
        prefix: str,
        client: SSMClient | None = None,
        ttl_s: int = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = normalise_prefix(prefix)
        self.ttl_s = ttl_s
        self._client = client or ssm_client()
        self._clock = clock
        self._cached: tuple[float, SystemSettings] | None = None
        self._fallback: tuple[float, SystemSettings] | None = None

    def __call__(self) -> SystemSettings:
        now = self._clock()
        if self._cached and now - self._cached[0] < self.ttl_s:
            return self._cached[1]
        if self._fallback and now - self._fallback[0] < RETRY_AFTER_FAILURE_S:
            return self._fallback[1]
        try:
            found = read_names(self._client, self.prefix, SystemSettings.names())
            defaults = read_experiment_defaults(self._client, self.prefix)
            bindings = read_bindings(self._client, self.prefix)
        except (ClientError, BotoCoreError) as exc:
            reason = f"ssm unavailable, built-in default used: {str(exc)[:200]}"
            log.warning("stage settings from %s unavailable; using defaults: %s", self.prefix, exc)
            settings = SystemSettings.resolve({}, source="default", notes=dict.fromkeys(SystemSettings.names(), reason))
            settings = settings.model_copy(update={"experiment_defaults": ExperimentDefaults(note=reason)})
            self._fallback = (now, settings)
            return settings
        self._fallback = None
        known = {name: item for name, item in found.items() if name in SystemSettings.names()}
        settings = SystemSettings.resolve(
            {name: item.value for name, item in known.items()},
            source="ssm",
            versions={name: item.version for name, item in known.items() if item.version},
        ).model_copy(update={"experiment_defaults": defaults, "secret_bindings": bindings})
        self._cached = (now, settings)
        return settings

    def clear(self) -> None:
        self._cached = None
        self._fallback = None

    def write(self, name: str, text: str, expected_version: int | None = None, label: str | None = None) -> Written:
        """Set the String parameter `<prefix><name>` (see `write_parameter`) and forget this
        instance's cache, so its next read shows the value; other warm instances see it within `ttl_s`."""
        try:
            return write_parameter(self._client, self.prefix + name, text, expected_version, label or name)
        finally:
            self.clear()


@dataclass(frozen=True)
class Written:
    """A settings write: the new version, and the version it replaced (0: it created the parameter;
    None: unknown, an unconditional write)."""

    version: int
    replaced: int | None


def read_current(client: SSMClient, name: str) -> Parameter | None:
    """The parameter as SSM holds it now (never a cached copy), or None when it does not exist.

    With the calls the orchestrator's role may make: a stage setting by name (`GetParameters`),
    an experiment default by its experiment's path (`GetParametersByPath`, allowed under
    `experiments/` only, so that no role reads a path that reaches `secrets/`)."""
    parent, _, leaf = name.rpartition("/")
    if f"/{EXPERIMENTS_PATH}" in name:
        found = read_path(client, parent).get(leaf)
        return Parameter(found.value, found.version or 0) if found else None
    items = client.get_parameters(Names=[name]).get("Parameters", [])
    return Parameter(items[0]["Value"], int(items[0]["Version"])) if items else None


def write_parameter(
    client: SSMClient,
    name: str,
    text: str,
    expected_version: int | None,
    label: str | None = None,
    *,
    description: str | None = None,
) -> Written:
    """Put the String parameter `name`, on a condition decided by SSM, never by a cache.

    `expected_version` 0: create only, enforced by SSM itself (`Overwrite=False` fails with
    `ParameterAlreadyExists`). N > 0: only if the parameter is at version N now. SSM has no
    compare-and-set, so this reads the version (uncached) right before the put: the window between
    the two calls is the only place a concurrent write can slip in. The put's answer tells whether
    one did (the new version is not N + 1); `replaced` then says which version was replaced, and
    the caller reports it. None: unconditional. A failed condition raises `SettingConflictError`
    naming `label` (the setting as the caller wrote it) and what the parameter holds now. A
    `description` is put with the value (`sweep params seed` describes each setting)."""
    label = label or name
    if expected_version == 0:
        try:
            version = _put(client, name, text, overwrite=False, description=description)
        except client.exceptions.ParameterAlreadyExists:
            raise _conflict(label, text, expected_version, read_current(client, name)) from None
        return Written(version, 0)
    if expected_version is not None:
        current = read_current(client, name)
        if current is None or current.version != expected_version:
            raise _conflict(label, text, expected_version, current)
    version = _put(client, name, text, overwrite=True, description=description)
    if expected_version is not None and version != expected_version + 1:
        log.warning(
            "%s: written as version %d over a write that landed after version %d", name, version, expected_version
        )
    return Written(version, version - 1 if expected_version is not None else None)


def _put(client: SSMClient, name: str, text: str, *, overwrite: bool, description: str | None) -> int:
    """PutParameter; without `description`, the parameter keeps the one it has."""
    if description is None:
        answer = client.put_parameter(Name=name, Value=text, Type="String", Overwrite=overwrite)
    else:
        answer = client.put_parameter(
            Name=name, Value=text, Type="String", Overwrite=overwrite, Description=description
        )
    return int(answer["Version"])


def _conflict(setting: str, text: str, expected_version: int, current: Parameter | None) -> SettingConflictError:
    version = (current.version or 0) if current else 0
    value = parse_value(current.value) if current else None
    held = current.value[:200] if current else ""
    if expected_version == 0 and current is not None:
        message = (
            f"`{setting}` exists already (version {version}, holding {held}): a create-only write does not replace it."
        )
    elif current is None:
        message = f"`{setting}` does not exist, so it cannot be updated from version {expected_version}."
    else:
        message = (
            f"`{setting}` is at version {version} (holding {held}), "
            f"not at version {expected_version} as the write expected."
        )
    hint = (
        f"to replace it, send `expected_version: {version}` (the version it holds now) with the value."
        if current is not None
        else "to create it, send `expected_version: 0` with the value."
    )
    return SettingConflictError(
        message,
        field=setting,
        value=parse_value(text),
        limit={"expected_version": expected_version},
        hint=hint,
        current_value=value,
        current_version=version,
    )


def _reason(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class SsmSecrets:
    """Experiment secrets: SecureString parameters `<prefix>secrets/<name>`, decrypted, each read
    with its binding `<prefix>secret-bindings/<name>` in one `GetParameters` call, and cached for
    `ttl_s` once found.

    One call per secret, not two: every cold worker reads its secrets, and Parameter Store's
    default throughput (40 calls a second, docs/deploy.md) is what a fan-out waits on. Read with
    the client rather than Powertools' `get_parameters_by_name`, which reports a server error and
    a missing parameter alike: a stage whose SSM fails must not look keyless."""

    def __init__(
        self,
        prefix: str,
        client: SSMClient | None = None,
        ttl_s: int = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = secrets_prefix(prefix)
        self.bindings = normalise_prefix(prefix) + BINDINGS_PATH
        self.ttl_s = ttl_s
        self._client = client or ssm_client()
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None, str | None]] = {}

    def __call__(self, names: Sequence[str]) -> Mapping[str, str]:
        """Each secret with its binding (none: it goes nowhere). `SecretUnavailableError` with
        `not_set` when a secret does not exist or holds its placeholder."""
        values: dict[str, str] = {}
        for name in names:
            value, binding = self._read(name)
            if value is None or value == SECRET_PLACEHOLDER:
                reason = (
                    f"could not be read: ParameterNotFound: Parameter {self.path}{name} not found."
                    if value is None
                    else "still holds its placeholder."
                )
                error = SecretUnavailableError(f"`{self.path}{name}` {reason}", field=name, hint=SET_SECRET_HINT)
                error.not_set = True
                raise error
            values[name] = BoundSecret(value, name, parse_stage_binding(name, binding))
        return values

    def _read(self, name: str) -> tuple[str | None, str | None]:
        now = self._clock()
        cached = self._cache.get(name)
        if cached is not None and now - cached[0] < self.ttl_s:
            return cached[1], cached[2]
        secret, binding = self.path + name, self.bindings + name
        try:
            answer = self._client.get_parameters(Names=[secret, binding], WithDecryption=True)
        except (ClientError, BotoCoreError) as exc:
            # the message names the parameter and SSM's reason, never a value
            raise SecretUnavailableError(
                f"`{secret}` could not be read: {_reason(exc).rstrip('.')}.",
                field=name,
                hint=f"check that the parameter exists and the worker's role may read it: {SET_SECRET_HINT}",
            ) from None
        found = {item["Name"]: item["Value"] for item in answer.get("Parameters", [])}
        if secret in found:  # a missing secret is asked again: once someone sets it, the next shard has it
            self._cache[name] = (now, found[secret], found.get(binding))
        return found.get(secret), found.get(binding)
