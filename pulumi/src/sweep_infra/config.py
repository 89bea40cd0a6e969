"""The stack config of a stage, validated into a typed model. A missing or wrong key fails with the
key and the `pulumi config set` command that fixes it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sweep_contracts._json import canonical_json
from sweep_contracts.binding import BINDINGS_PATH, DEFAULT_HEADER, SecretBinding
from sweep_contracts.errors import SettingsError, SweepError
from sweep_contracts.settings import SystemSettings, parameter_prefix
from sweep_infra.errors import StackConfigError

NAMESPACE = "sweep"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FunctionConfig(_Model):
    memory_mb: int = Field(alias="memoryMb", ge=128, le=10_240)
    timeout_s: int = Field(alias="timeoutS", ge=3, le=900)
    reserved_concurrency: int | None = Field(default=None, alias="reservedConcurrency", ge=0)


SEARCH_SIZING = {"memoryMb": 1769, "timeoutS": 900}
"""The search function's default: one full vCPU (Optuna's samplers are single-threaded; more memory
buys no speed) and Lambda's longest timeout: rebuilding a study of 9,999 trials and asking one TPE
trial took 17 s here, a round of 100 at 9,900 trials 103 s (load ~8), and each further trial of a
round ~0.9 s at that size (bench/RESULTS.md, "Search function")."""


class WorkerConfig(FunctionConfig):
    max_retry_attempts: int = Field(default=2, alias="maxRetryAttempts", ge=0, le=2)
    max_event_age_s: int = Field(default=3600, alias="maxEventAgeS", ge=60, le=21_600)


class ApiThrottle(_Model):
    burst_limit: int = Field(alias="burstLimit", ge=1, le=5000)
    rate_limit: float = Field(alias="rateLimit", gt=0, le=10_000)


class BindingConfig(_Model):
    """`sweep:secretBindings.<name>`: the endpoints (`https://host[:port]`, or an explicitly
    listed loopback `http://127.0.0.1:port`) and the header a secret may go to."""

    endpoints: tuple[str, ...] = Field(min_length=1)
    header: str = DEFAULT_HEADER

    @model_validator(mode="after")
    def _checked(self) -> BindingConfig:
        SecretBinding(endpoints=self.endpoints, header=self.header)  # raises naming the bad endpoint
        return self


class StackConfig(_Model):
    """Everything that differs between stages."""

    stage: str = Field(pattern=r"^[a-z][a-z0-9-]{0,19}$")
    region: str
    settings: dict[str, int]
    experiments: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Stage defaults per experiment: `/sweep/<stage>/experiments/<name>/<key>`, merged at submit."""
    orchestrator: FunctionConfig
    worker: WorkerConfig
    search: FunctionConfig = Field(default_factory=lambda: FunctionConfig.model_validate(SEARCH_SIZING))
    """The search function (a search's rounds step, with Optuna); `SEARCH_SIZING` unless set."""
    log_retention_days: int = Field(alias="logRetentionDays")
    results_expire_days: int | None = Field(default=None, alias="resultsExpireDays", ge=1)
    athena_bytes_scanned_cutoff: int = Field(alias="athenaBytesScannedCutoff", ge=10_485_760)
    api_throttle: ApiThrottle = Field(alias="apiThrottle")
    force_destroy: bool = Field(default=False, alias="forceDestroy")
    ssm_high_throughput: bool = Field(default=False, alias="ssmHighThroughput")
    artifacts_dir: str | None = Field(default=None, alias="artifactsDir")
    experiment_packages: tuple[str, ...] = Field(default=(), alias="experimentPackages")
    """The stage's own experiments (local project paths, requirements), shipped in its functions."""
    secret_bindings: dict[str, BindingConfig] = Field(default_factory=dict, alias="secretBindings")
    """Where each secret may go: `/sweep/<stage>/secret-bindings/<name>` (`sweep_contracts.binding`)."""

    encryption: Literal["sse-s3", "kms"] = "sse-s3"
    """The results bucket's default encryption: SSE-S3, or SSE-KMS with the stage's own key."""
    kms_key_arn: str | None = Field(default=None, alias="kmsKeyArn")
    """With `kms`: a key of yours by ARN; without it the stack creates one (`alias/sweep-<stage>`)."""

    @model_validator(mode="after")
    def _consistent(self) -> StackConfig:
        margin = self.effective_settings().time_budget_margin_ms
        if margin >= self.worker.timeout_s * 1000:
            raise ValueError(
                f"settings.time_budget_margin_ms ({margin}) must be below the worker's timeout "
                f"({self.worker.timeout_s} s), or a shard never has time to run"
            )
        return self

    @property
    def kms(self) -> bool:
        return self.encryption == "kms"

    @property
    def prefix(self) -> str:
        return f"sweep-{self.stage}"

    @property
    def parameter_prefix(self) -> str:
        return parameter_prefix(self.stage)

    @property
    def tags(self) -> dict[str, str]:
        return {"project": "sweep", "stage": self.stage}

    def effective_settings(self) -> SystemSettings:
        """The stack's settings over the built-in defaults: the value of every SSM parameter. A stack that
        turns Parameter Store's higher throughput on (`ssmHighThroughput`) says so in `ssm_high_throughput`."""
        settings = {**self.settings, **({"ssm_high_throughput": 1} if self.ssm_high_throughput else {})}
        return SystemSettings.resolve(settings, source="default", strict=True)

    def binding_parameters(self) -> dict[str, str]:
        """Each secret's binding as (parameter name under the prefix → JSON text)."""
        return {
            f"{BINDINGS_PATH}{name}": canonical_json(
                SecretBinding(endpoints=binding.endpoints, header=binding.header).model_dump(
                    mode="json", include={"endpoints", "header"}
                )
            )
            for name, binding in sorted(self.secret_bindings.items())
        }

    def experiment_parameters(self) -> dict[str, str]:
        """Each experiment default as (parameter name under the prefix → text), checked by the
        experiment's config model, so a bad default stops `pulumi up` rather than every submit."""
        from sweep_contracts.defaults import setting_parameter
        from sweep_contracts.experiments import Registry

        found: dict[str, str] = {}
        for experiment, values in sorted(self.experiments.items()):
            for key, value in sorted(values.items()):
                name = f"experiments.{experiment}.{key}"
                try:
                    parameter, text = setting_parameter(name, value, Registry.default())
                except SweepError as exc:
                    raise StackConfigError(
                        f"stack config `{name}` of stack `{self.stage}`: {exc.message} {exc.hint or ''}",
                        field=name,
                        hint=f"pulumi config set --path --stack {self.stage} {NAMESPACE}:{name} <value>",
                    ) from None
                found[parameter] = text
        return found


# (config key, example value) for the hints; nested keys are set with --path
EXAMPLES = {
    "region": ("aws:region", "us-east-1"),
    "settings": (f"{NAMESPACE}:settings.max_points", "100000"),
    "orchestrator": (f"{NAMESPACE}:orchestrator.memoryMb", "512"),
    "worker": (f"{NAMESPACE}:worker.memoryMb", "1769"),
    "search": (f"{NAMESPACE}:search.timeoutS", "900"),
    "logRetentionDays": (f"{NAMESPACE}:logRetentionDays", "14"),
    "athenaBytesScannedCutoff": (f"{NAMESPACE}:athenaBytesScannedCutoff", "10737418240"),
    "apiThrottle": (f"{NAMESPACE}:apiThrottle.burstLimit", "50"),
    "secretBindings": (f"{NAMESPACE}:secretBindings.api_key.endpoints[0]", "https://api.openai.com"),
    "encryption": (f"{NAMESPACE}:encryption", "kms"),
}
_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(?:mrk-[0-9a-f]{32}|[0-9a-f-]{36})$")
"""A key's ARN (a multi-Region key's too): IAM grants a key by its ARN; an alias ARN in a
policy's Resource only covers operations on the alias itself."""
_LOG_RETENTION = {
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
}


def _hint(loc: tuple[Any, ...], stage: str) -> str:
    top = str(loc[0]) if loc else ""
    key, example = EXAMPLES.get(top, (f"{NAMESPACE}:{top}", "…"))
    if len(loc) > 1:
        key = f"{NAMESPACE}:{'.'.join(str(p) for p in loc)}" if top != "region" else key
        key += "[0]" if loc[-1] == "endpoints" else ""  # a list: --path sets one item
    path = " --path" if "." in key else ""
    return f"pulumi config set{path} --stack {stage} {key} {example}"


def parse_config(raw: Mapping[str, Any], stage: str) -> StackConfig:
    """Validate raw stack config values (as Pulumi holds them) for `stage`."""
    try:
        config = StackConfig.model_validate({**raw, "stage": stage})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        where = ".".join(str(p) for p in loc)
        raise StackConfigError(
            f"stack config `{where}` of stack `{stage}`: {first['msg'].removeprefix('Value error, ')}.",
            field=where,
            hint=_hint(loc, stage),
        ) from None
    except SettingsError as exc:
        raise StackConfigError(
            f"stack config `settings.{exc.field}` of stack `{stage}`: {exc.message} {exc.hint}",
            field=f"settings.{exc.field}",
            value=exc.value,
            hint=f"pulumi config set --path --stack {stage} {NAMESPACE}:settings.{exc.field} <value>",
        ) from None
    _check_encryption(config, stage)
    if config.log_retention_days not in _LOG_RETENTION:
        raise StackConfigError(
            f"stack config `logRetentionDays` of stack `{stage}` is {config.log_retention_days}; CloudWatch accepts "
            f"{sorted(_LOG_RETENTION)}.",
            field="logRetentionDays",
            value=config.log_retention_days,
            hint=f"pulumi config set --stack {stage} {NAMESPACE}:logRetentionDays 14",
        )
    return config


def _check_encryption(config: StackConfig, stage: str) -> None:
    arn = config.kms_key_arn
    if arn is None:
        return
    if not config.kms:
        raise StackConfigError(
            f"stack config `kmsKeyArn` of stack `{stage}`: a key ARN is only used with `encryption: kms` (the stage "
            f"is `{config.encryption}`).",
            field="kmsKeyArn",
            hint=f"pulumi config set --stack {stage} {NAMESPACE}:encryption kms",
        )
    if not _KEY_ARN.fullmatch(arn):
        raise StackConfigError(
            f"stack config `kmsKeyArn` of stack `{stage}`: `{arn}` is not a KMS key ARN "
            "(arn:aws:kms:<region>:<account>:key/<key id>; an alias cannot be granted in IAM).",
            field="kmsKeyArn",
            value=arn,
            hint=f"pulumi config set --stack {stage} {NAMESPACE}:kmsKeyArn "
            f"arn:aws:kms:{config.region}:111122223333:key/<key id>",
        )


def load_config() -> StackConfig:
    """The current stack's config, from Pulumi."""
    sweep = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {"region": pulumi.Config("aws").get("region")}
    if sweep.get("secrets") is not None:
        # an older stack config named its secrets for the program to create: `sweep params set-secret` owns them now
        raise StackConfigError(
            f"stack config `secrets` of stack `{pulumi.get_stack()}` is no longer read: secrets are not Pulumi "
            "resources (their values would be read into the state).",
            field=f"{NAMESPACE}:secrets",
            hint=f"pulumi config rm --stack {pulumi.get_stack()} {NAMESPACE}:secrets, and create each secret with: "
            f"uv run sweep params set-secret NAME --stage {pulumi.get_stack()} < FILE",
        )
    for key in (
        "settings",
        "experiments",
        "experimentPackages",
        "orchestrator",
        "worker",
        "search",
        "apiThrottle",
        "secretBindings",
    ):
        value = sweep.get_object(key)
        if value is not None:
            raw[key] = value
    for key in ("logRetentionDays", "resultsExpireDays", "athenaBytesScannedCutoff"):
        value = sweep.get_int(key)
        if value is not None:
            raw[key] = value
    for key in ("forceDestroy", "ssmHighThroughput"):
        if sweep.get_bool(key) is not None:
            raw[key] = sweep.get_bool(key)
    for key in ("encryption", "kmsKeyArn"):
        if sweep.get(key):
            raw[key] = sweep.get(key)
    if sweep.get("artifactsDir"):
        raw["artifactsDir"] = sweep.get("artifactsDir")
    return parse_config({k: v for k, v in raw.items() if v is not None}, pulumi.get_stack())
