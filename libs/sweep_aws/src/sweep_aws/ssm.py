"""Stage settings and experiment secrets from SSM Parameter Store, cached.

Settings are the String parameters directly under the stage prefix (`/sweep/<stage>/<name>`);
secrets are SecureString parameters under `<prefix>secrets/`, read only by the worker, only when
an experiment declares them, and never logged, returned or put in an event."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from sweep_aws.clients import ssm_client
from sweep_contracts.settings import SECRET_PLACEHOLDER, SystemSettings, normalise_prefix, secrets_prefix

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

log = logging.getLogger("sweep.settings")

DEFAULT_TTL_S = 300
RETRY_AFTER_FAILURE_S = 30


class _VersionedSSMProvider(SSMProvider):
    """Powertools' SSM provider (and its TTL cache), keeping each parameter's version."""

    def _get_multiple(  # type: ignore[override]
        self, path: str, decrypt: bool | None = None, recursive: bool = False, **sdk_options: Any
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        paginator = self.client.get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=path, Recursive=recursive, WithDecryption=bool(decrypt)):
            for parameter in page.get("Parameters", []):
                name = parameter["Name"][len(path) :].lstrip("/")
                found[name] = {"value": parameter["Value"], "version": parameter.get("Version")}
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
        self._provider = _VersionedSSMProvider(boto3_client=client or ssm_client())
        self._clock = clock
        self._fallback: tuple[float, SystemSettings] | None = None

    def __call__(self) -> SystemSettings:
        if self._fallback and self._clock() - self._fallback[0] < RETRY_AFTER_FAILURE_S:
            return self._fallback[1]
        try:
            found: Mapping[str, Mapping[str, Any]] = self._provider.get_multiple(  # type: ignore[assignment]
                self.prefix, max_age=self.ttl_s
            )
        except GetParameterError as exc:
            reason = f"ssm unavailable, built-in default used: {str(exc)[:200]}"
            log.warning("stage settings from %s unavailable; using defaults: %s", self.prefix, exc)
            settings = SystemSettings.resolve({}, source="default", notes=dict.fromkeys(SystemSettings.names(), reason))
            self._fallback = (self._clock(), settings)
            return settings
        self._fallback = None
        known = {name: item for name, item in found.items() if name in SystemSettings.names()}
        return SystemSettings.resolve(
            {name: item["value"] for name, item in known.items()},
            source="ssm",
            versions={name: int(item["version"]) for name, item in known.items() if item.get("version")},
        )

    def clear(self) -> None:
        self._provider.clear_cache()  # type: ignore[no-untyped-call]
        self._fallback = None


def _reason(exc: GetParameterError) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ClientError):
        error = cause.response.get("Error", {})
        return f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(cause).__name__}: {cause}" if cause is not None else (str(exc) or "unknown error")


class SsmSecrets:
    """Experiment secrets: SecureString parameters `<prefix>secrets/<name>`, decrypted, cached."""

    def __init__(self, prefix: str, client: SSMClient | None = None, ttl_s: int = DEFAULT_TTL_S) -> None:
        self.path = secrets_prefix(prefix)
        self.ttl_s = ttl_s
        self._provider = SSMProvider(boto3_client=client or ssm_client())

    def __call__(self, names: Sequence[str]) -> Mapping[str, str]:
        values: dict[str, str] = {}
        for name in names:
            try:
                value = str(self._provider.get(self.path + name, max_age=self.ttl_s, decrypt=True))
            except GetParameterError as exc:
                # Powertools raises its error inside `except` without `from`: the SSM error is the
                # context. The message names the parameter and SSM's reason, never a value.
                raise LookupError(f"`{self.path}{name}` could not be read: {_reason(exc)}") from None
            if value == SECRET_PLACEHOLDER:
                raise LookupError(f"`{self.path}{name}` still holds its placeholder; give it a value first")
            values[name] = value
        return values
