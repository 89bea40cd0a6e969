"""Stage settings: caps, shard sizing and time budgets, each value with where it came from.

The model below is the one list of settings: SSM parameter names (`<prefix><name>`), the seed
command, the stack config and `GET /settings` all derive from its fields.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, JsonValue, ValidationError

from sweep_contracts import prices
from sweep_contracts.base import Frozen
from sweep_contracts.binding import SecretBinding
from sweep_contracts.errors import SettingsError

Source = Literal["default", "ssm", "file"]
SettingValue = int


class Provenance(Frozen):
    """Where one effective setting came from; `version` is the SSM parameter version."""

    source: Source = "default"
    version: int | None = None
    note: str | None = None


class DefaultValue(Frozen):
    """One stage default of one experiment config key, and where it was read (`sweep_contracts.defaults`)."""

    value: JsonValue
    source: Literal["ssm", "file"]
    version: int | None = None


class ExperimentDefaults(Frozen):
    """The stage defaults of every experiment, by experiment name then config key. `note` says why
    there are none when their source could not be read (the config models' own defaults apply then)."""

    experiments: dict[str, dict[str, DefaultValue]] = Field(default_factory=dict)
    note: str | None = None

    def of(self, experiment: str) -> dict[str, DefaultValue]:
        return self.experiments.get(experiment, {})


EXPERIMENTS_PATH = "experiments/"
"""Experiment defaults are String parameters under `<prefix>experiments/<name>/<key>`."""


def parse_value(text: str) -> JsonValue:
    """A parameter's text as a JSON value (`800` → 800, `[1, 2]` → a list); anything else is a string."""
    try:
        value: JsonValue = json.loads(text)
    except ValueError:
        return text
    return value


ASYNC_INVOKE_LIMIT_BYTES = 1_048_576
"""An async (`Event`) Lambda invoke's payload limit."""


class SystemSettings(Frozen):
    """Effective stage settings. Built-in defaults apply wherever no other source gives a value."""

    max_points: int = Field(default=1_000_000, ge=1, le=1_000_000_000, description="Most points one run may have.")
    max_shards: int = Field(default=10_000, ge=1, le=99_999, description="Most shards one run may have.")
    max_request_bytes: int = Field(
        default=131_072,
        ge=1_024,
        le=524_288,
        description="Largest request body in bytes; every shard task carries the request, and an async "
        "Lambda event may be at most 1 MB (1,048,576 bytes), so at most half of that goes to the request.",
    )
    max_task_bytes: int = Field(
        default=ASYNC_INVOKE_LIMIT_BYTES,
        ge=4_096,
        le=ASYNC_INVOKE_LIMIT_BYTES,
        description="Largest encoded shard task in bytes: what an async Lambda invoke carries (at most 1 MB). "
        "Checked at submit on the largest task of the plan, since re-encoding can grow a request.",
    )
    shard_size: int = Field(
        default=100, ge=1, le=10_000_000, description="Most points per shard when a request gives no `shard_size`."
    )
    min_shards: int = Field(
        default=32, ge=1, le=99_999, description="Small sweeps are spread over at least this many shards."
    )
    time_budget_margin_ms: int = Field(
        default=10_000, ge=0, le=600_000, description="Time a worker keeps back to write its results."
    )
    shard_time_budget_s: int = Field(
        default=900, ge=1, le=86_400, description="A shard's time budget where the runtime gives none (local engine)."
    )
    dispatch_concurrency: int = Field(
        default=32, ge=1, le=256, description="Concurrent async invokes while dispatching shards."
    )
    dispatch_max_attempts: int = Field(
        default=6, ge=1, le=20, description="Attempts per shard invoke before it is recorded DISPATCH_FAILED."
    )
    fanout_batch_size: int = Field(
        default=500,
        ge=10,
        le=10_000,
        description="Most shards one orchestrator invocation dispatches; larger runs fan out.",
    )
    worker_concurrency: int = Field(
        default=1_000,
        ge=1,
        le=100_000,
        description="Shards that run at once on the stage: the worker's reserved concurrency, or the account's "
        "unreserved pool. Sizes the submit-time check against `max_event_age_s`.",
    )
    max_event_age_s: int = Field(
        default=21_600,
        ge=60,
        le=21_600,
        description="The worker's maximum event age (stack config `maxEventAgeS`): a queued shard not started by "
        "then is dropped as EVENT_EXPIRED.",
    )
    refuse_expiring_runs: int = Field(
        default=1,
        ge=0,
        le=1,
        description="1: refuse a run whose shards cannot all start within `max_event_age_s`; 0: submit it "
        "with a warning.",
    )
    ssm_high_throughput: int = Field(
        default=0,
        ge=0,
        le=1,
        description="1: the account has Parameter Store's higher throughput on (an account-level service setting: "
        "`aws ssm update-service-setting --setting-id arn:aws:ssm:REGION:ACCOUNT:servicesetting/ssm/parameter-store/"
        "high-throughput-enabled --setting-value true`), billed per API interaction and counted in the run estimate; "
        "0: the default 40 reads a second, and a run whose cold workers read more secrets than that serves in 10 s "
        "is warned about at submit.",
    )
    worker_memory_mb: int = Field(
        default=1_769,
        ge=128,
        le=10_240,
        description="The worker's memory (stack config `sweep:worker.memoryMb`): GB-seconds in the run estimate.",
    )
    worker_timeout_s: int = Field(
        default=900,
        ge=3,
        le=900,
        description="The worker's timeout (stack config `sweep:worker.timeoutS`): the longest a shard can take, "
        "the shard time of the run estimate when no `expected_point_s` is given.",
    )
    max_run_cost_usd: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="Refuse a run whose estimated cost (see `sweep plan --stage`) is over this many US dollars; "
        "0: no cap.",
    )
    price_lambda_gb_s_nusd: int = Field(
        default=prices.LAMBDA_ARM_GB_S_NUSD, ge=0, le=10**9, description="Lambda duration, nano-USD per GB-second."
    )
    price_lambda_request_nusd: int = Field(
        default=prices.LAMBDA_REQUEST_NUSD, ge=0, le=10**9, description="Lambda requests, nano-USD per invocation."
    )
    price_s3_put_nusd: int = Field(default=prices.S3_PUT_NUSD, ge=0, le=10**9, description="S3 PUTs, nano-USD each.")
    price_ssm_high_throughput_nusd: int = Field(
        default=prices.SSM_HIGH_THROUGHPUT_NUSD,
        ge=0,
        le=10**9,
        description="Parameter Store API interactions at higher throughput, nano-USD each.",
    )
    price_athena_gb_nusd: int = Field(
        default=prices.ATHENA_GB_NUSD, ge=0, le=10**12, description="Athena, nano-USD per GB (10^9 bytes) scanned."
    )
    provenance: dict[str, Provenance] = Field(default_factory=dict, exclude=True)
    experiment_defaults: ExperimentDefaults = Field(default_factory=ExperimentDefaults, exclude=True)
    """Read with the settings (same source, cache and fallback), merged into a request's config at submit."""
    secret_bindings: dict[str, SecretBinding] = Field(default_factory=dict, exclude=True)
    """Where each secret may go (`sweep_contracts.binding`): read with the settings, checked at submit."""

    @classmethod
    def names(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in _NOT_SETTINGS]

    @classmethod
    def describe(cls) -> dict[str, dict[str, Any]]:
        """Name -> default, bounds and description, for docs, the seed command and `sweep plan`."""
        out: dict[str, dict[str, Any]] = {}
        for name in cls.names():
            info = cls.model_fields[name]
            bounds = {k: getattr(m, k) for m in info.metadata for k in ("ge", "le") if hasattr(m, k)}
            out[name] = {
                "default": info.default,
                "min": bounds.get("ge"),
                "max": bounds.get("le"),
                "description": info.description,
            }
        return out

    @classmethod
    def check_value(cls, name: str, value: Any, *, strict: bool = False) -> SettingValue:
        """Validate one value; raise `SettingsError` naming the setting, the value and the range.

        `strict` (an admin's JSON write): the value must be a JSON integer, so `true`, `"500"` and
        `5e5` are refused instead of being stored as `1`, `500` and `500000`. Without it, text read
        back from SSM (`"800"`) and the settings file's YAML numbers are parsed."""
        if name not in cls.names():
            close = difflib.get_close_matches(name, cls.names(), n=1)
            guess = f"; did you mean `{close[0]}`?" if close else ""
            raise SettingsError(
                f"`{name}` is not a setting{guess}",
                field=name,
                value=value,
                hint=f"valid settings: {', '.join(cls.names())}.",
            )
        if strict and (isinstance(value, bool) or not isinstance(value, int)):
            spec = cls.describe()[name]
            raise SettingsError(
                f"setting `{name}` must be a JSON integer, not {_json_kind(value)} ({_as_json(value)}).",
                field=name,
                value=value,
                limit={"type": "integer", "min": spec["min"], "max": spec["max"]},
                hint=f"send an integer from {spec['min']} to {spec['max']} without quotes, "
                f'e.g. `{{"value": {spec["default"]}}}`.',
            )
        try:
            checked = cls.model_validate({name: value})
        except ValidationError as exc:
            spec = cls.describe()[name]
            raise SettingsError(
                f"setting `{name}` cannot be {value!r}: {exc.errors()[0]['msg'].lower()}.",
                field=name,
                value=value,
                limit={"min": spec["min"], "max": spec["max"]},
                hint=f"give an integer from {spec['min']} to {spec['max']} (default {spec['default']}).",
            ) from exc
        result: SettingValue = getattr(checked, name)
        return result

    @classmethod
    def resolve(
        cls,
        raw: Mapping[str, Any],
        *,
        source: Source,
        versions: Mapping[str, int] | None = None,
        strict: bool = False,
        notes: Mapping[str, str] | None = None,
    ) -> SystemSettings:
        """Overlay `raw` values on the defaults. With `strict`, a bad name or value raises;
        otherwise it falls back to the default and the provenance says why."""
        values: dict[str, Any] = {}
        provenance = {name: Provenance(note=(notes or {}).get(name)) for name in cls.names()}
        for name, value in raw.items():
            try:
                values[name] = cls.check_value(name, value)
            except SettingsError as exc:
                if strict:
                    raise
                if name in provenance:
                    provenance[name] = Provenance(note=f"{source} value {value!r} ignored: {exc.message}")
                continue
            provenance[name] = Provenance(source=source, version=(versions or {}).get(name))
        return cls(**values, provenance=provenance)

    def values(self) -> dict[str, SettingValue]:
        return {name: getattr(self, name) for name in self.names()}

    def records(self) -> dict[str, dict[str, Any]]:
        """Value, source and version per setting, as the manifest and `GET /settings` show them."""
        default = Provenance()
        return {
            name: {"value": value, **self.provenance.get(name, default).model_dump(exclude_none=True)}
            for name, value in self.values().items()
        }


_NOT_SETTINGS = frozenset({"provenance", "experiment_defaults", "secret_bindings"})


def _json_kind(value: Any) -> str:
    """What JSON type `value` was sent as, for an error message."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    kinds: dict[type, str] = {str: "a string", list: "an array", dict: "an object", type(None): "null"}
    return next((kind for cls, kind in kinds.items() if isinstance(value, cls)), type(value).__name__)


def _as_json(value: Any) -> str:
    try:
        return json.dumps(value)[:100]
    except (TypeError, ValueError):
        return repr(value)[:100]


SECRETS_PATH = "secrets/"
"""Experiment secrets are SecureString parameters under `<prefix>secrets/<name>`."""


def parameter_prefix(stage: str) -> str:
    """The SSM path of a stage's parameters, `/sweep/<stage>/`: the one place it is spelled, for
    the infrastructure that creates them, the functions that read them and the CLI that edits them."""
    return normalise_prefix(f"/sweep/{stage}")


def normalise_prefix(prefix: str) -> str:
    """`/sweep/dev` and `/sweep/dev/` both mean `/sweep/dev/`."""
    return "/" + prefix.strip("/") + "/"


def secrets_prefix(prefix: str) -> str:
    """Where the experiment secrets of the stage with parameter prefix `prefix` live."""
    return normalise_prefix(prefix) + SECRETS_PATH


SECRET_PLACEHOLDER = "UNSET: give this secret its value with `sweep params set-secret`"  # noqa: S105 - a marker
"""What a secret parameter holds until someone gives it a value (the infrastructure never does)."""
