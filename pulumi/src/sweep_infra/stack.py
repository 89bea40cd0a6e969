"""One stage of sweep: every resource, wired. The stack outputs are named by
`sweep_contracts.outputs`, which the CLI reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from sweep_contracts import environment, layout, outputs
from sweep_contracts.settings import SECRETS_PATH
from sweep_infra import policies
from sweep_infra.api import HttpApi, HttpApiArgs
from sweep_infra.catalog import ResultsCatalog, ResultsCatalogArgs
from sweep_infra.config import FunctionConfig, StackConfig
from sweep_infra.functions import FunctionArgs, SweepFunction
from sweep_infra.packaging import Artifact
from sweep_infra.parameters import StageParameters, StageParametersArgs
from sweep_infra.storage import Expiry, SecureBucket, SecureBucketArgs

ORCHESTRATOR_HANDLER = "sweep_orchestrator.handler.handler"
RECONCILER_HANDLER = "sweep_orchestrator.handler.reconcile_handler"
WORKER_HANDLER = "sweep_worker.handler.handler"
SEARCH_HANDLER = "sweep_orchestrator.search.handler.handler"
ATHENA_RESULTS_DAYS = 7
SSM_HIGH_THROUGHPUT = "/ssm/parameter-store/high-throughput-enabled"
ORCHESTRATOR_ASYNC_RETRIES = 2  # its own fan-out invocations: Lambda retries a failed dispatcher twice


@dataclass(frozen=True)
class Storage:
    """The stage's two buckets, and the results bucket's KMS key ARN (None under SSE-S3)."""

    results: SecureBucket
    code: SecureBucket
    results_key: pulumi.Input[str] | None


@dataclass(frozen=True)
class Names:
    """The functions' names and ARNs, known before they exist (each role names the others)."""

    orchestrator: str
    worker: str
    reconciler: str
    search: str
    orchestrator_arn: pulumi.Output[str]
    worker_arn: pulumi.Output[str]
    reconciler_arn: pulumi.Output[str]
    search_arn: pulumi.Output[str]
    parameters_arn: pulumi.Output[str]


@dataclass(frozen=True)
class RolePolicies:
    """Each function's IAM policy document, given its log group's ARN (`SweepFunction` asks)."""

    config: StackConfig
    storage: Storage
    names: Names

    def _grant(self, arn: str) -> policies.ResultsKey | None:
        return policies.ResultsKey(arn, self.config.region) if arn else None

    @property
    def _key_arn(self) -> pulumi.Input[str]:
        # every role reads and writes the results bucket: each may use its key (if any), through S3 only
        return self.storage.results_key if self.storage.results_key is not None else ""

    def orchestrator(self, log_group_arn: str) -> pulumi.Output[str]:
        n = self.names
        return pulumi.Output.all(
            self.storage.results.bucket.arn,
            n.parameters_arn,
            n.worker_arn,
            n.orchestrator_arn,
            n.reconciler_arn,
            n.search_arn,
            self._key_arn,
        ).apply(
            lambda a: json.dumps(
                policies.orchestrator_policy(
                    log_group_arn=log_group_arn,
                    bucket_arn=a[0],
                    parameter_path_arn=a[1],
                    worker_arn=a[2],
                    orchestrator_arn=a[3],
                    reconciler_arn=a[4],
                    search_arn=a[5],
                    results_key=self._grant(a[6]),
                )
            )
        )

    def search(self, log_group_arn: str) -> pulumi.Output[str]:
        n = self.names
        return pulumi.Output.all(self.storage.results.bucket.arn, n.parameters_arn, n.worker_arn, self._key_arn).apply(
            lambda a: json.dumps(
                policies.search_policy(
                    log_group_arn=log_group_arn,
                    bucket_arn=a[0],
                    parameter_path_arn=a[1],
                    worker_arn=a[2],
                    results_key=self._grant(a[3]),
                )
            )
        )

    def worker(self, log_group_arn: str) -> pulumi.Output[str]:
        n = self.names
        return pulumi.Output.all(
            self.storage.results.bucket.arn, n.parameters_arn, n.reconciler_arn, self._key_arn
        ).apply(
            lambda a: json.dumps(
                policies.worker_policy(
                    log_group_arn=log_group_arn,
                    bucket_arn=a[0],
                    secrets_path_arn=a[1] + "/" + SECRETS_PATH.rstrip("/"),
                    reconciler_arn=a[2],
                    results_key=self._grant(a[3]),
                )
            )
        )

    def reconciler(self, log_group_arn: str) -> pulumi.Output[str]:
        return pulumi.Output.all(self.storage.results.bucket.arn, self._key_arn).apply(
            lambda a: json.dumps(
                policies.reconciler_policy(log_group_arn=log_group_arn, bucket_arn=a[0], results_key=self._grant(a[1]))
            )
        )


@dataclass(frozen=True)
class Functions:
    orchestrator: SweepFunction
    worker: SweepFunction
    reconciler: SweepFunction
    search: SweepFunction


class SweepStack(pulumi.ComponentResource):
    """Every resource of one stage, built component by component: storage, catalog, parameters,
    functions (with their async invoke configs), API; then the stack outputs."""

    def __init__(
        self, name: str, config: StackConfig, artifacts: dict[str, Artifact], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sweep:stack:SweepStack", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        storage = self._storage(config)
        catalog = self._catalog(config, storage)
        self._parameters(config)
        names = self._names(config)
        functions = self._functions(config, artifacts, storage, names)
        self._async_invokes(config, functions)
        api = self._api(config, functions)
        self._round_trigger(config, storage, functions)
        self.outputs: dict[str, pulumi.Input[str]] = {
            outputs.API_URL: api.url,
            outputs.REGION: config.region,
            outputs.RESULTS_BUCKET: storage.results.bucket.bucket,
            outputs.GLUE_DATABASE: catalog.database.name,
            outputs.ATHENA_WORKGROUP: catalog.workgroup.name,
            outputs.PARAMETER_PREFIX: config.parameter_prefix,
            outputs.ORCHESTRATOR_FUNCTION: functions.orchestrator.function.name,
            outputs.WORKER_FUNCTION: functions.worker.function.name,
            outputs.SEARCH_FUNCTION: functions.search.function.name,
            outputs.ARTIFACT_BUCKET: storage.code.bucket.bucket,
            outputs.SETTINGS_ADMIN_POLICY: api.admin_policy.arn,
        }
        self.register_outputs(self.outputs)

    def _storage(self, config: StackConfig) -> Storage:
        """The results bucket (expiring Athena's query results, and the runs' data when asked) and
        the artifacts bucket."""
        expiries = [Expiry("athena/", ATHENA_RESULTS_DAYS)]
        if config.results_expire_days:
            expiries += [Expiry(p, config.results_expire_days) for p in ("runs/", "points/", "outcomes/", "started/")]
        results_key = self._results_key(config, self._child)
        results = SecureBucket(
            f"{config.prefix}-results",
            SecureBucketArgs(config.tags, expiries, config.force_destroy, results_key),
            self._child,
        )
        code = SecureBucket(
            f"{config.prefix}-artifacts", SecureBucketArgs(config.tags, [], config.force_destroy), self._child
        )
        return Storage(results, code, results_key)

    def _catalog(self, config: StackConfig, storage: Storage) -> ResultsCatalog:
        return ResultsCatalog(
            f"{config.prefix}-catalog",
            ResultsCatalogArgs(
                database=f"sweep_{config.stage.replace('-', '_')}",
                workgroup=config.prefix,
                bucket=storage.results.bucket.bucket,
                bytes_scanned_cutoff=config.athena_bytes_scanned_cutoff,
                tags=config.tags,
                force_destroy=config.force_destroy,
                kms_key_arn=storage.results_key,
            ),
            self._child,
        )

    def _parameters(self, config: StackConfig) -> None:
        """The stage's settings, experiment defaults and secret bindings in Parameter Store, and its
        higher throughput where the stack asks for it."""
        StageParameters(
            f"{config.prefix}-parameters",
            StageParametersArgs(
                config.parameter_prefix,
                config.effective_settings(),
                config.tags,
                config.experiment_parameters(),
                config.binding_parameters(),
            ),
            self._child,
        )
        if config.ssm_high_throughput:
            # Account- and region-wide, shared by every stage there: kept when this stack is destroyed,
            # so destroying one stage does not throttle another (turn off: docs/deploy.md).
            aws.ssm.ServiceSetting(
                f"{config.prefix}-ssm-high-throughput",
                setting_id=SSM_HIGH_THROUGHPUT,
                setting_value="true",
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )

    def _names(self, config: StackConfig) -> Names:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        def arn(service: str, resource: str) -> pulumi.Output[str]:
            return pulumi.Output.concat("arn:", partition, f":{service}:{config.region}:", account, f":{resource}")

        prefix = config.prefix
        orchestrator, worker, reconciler = f"{prefix}-orchestrator", f"{prefix}-worker", f"{prefix}-reconciler"
        search = f"{prefix}-search"
        return Names(
            orchestrator=orchestrator,
            worker=worker,
            reconciler=reconciler,
            search=search,
            orchestrator_arn=arn("lambda", f"function:{orchestrator}"),
            worker_arn=arn("lambda", f"function:{worker}"),
            reconciler_arn=arn("lambda", f"function:{reconciler}"),
            search_arn=arn("lambda", f"function:{search}"),
            parameters_arn=arn("ssm", "parameter" + config.parameter_prefix.rstrip("/")),
        )

    def _functions(
        self, config: StackConfig, artifacts: dict[str, Artifact], storage: Storage, names: Names
    ) -> Functions:
        """The orchestrator, the worker, the reconciler and the search function, each with its own role."""
        roles = RolePolicies(config, storage, names)
        common: dict[str, pulumi.Input[str]] = {
            environment.STAGE: config.stage,
            environment.PARAMETER_PREFIX: config.parameter_prefix,
            environment.STORE: pulumi.Output.concat("s3://", storage.results.bucket.bucket),
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }

        def function(
            name: str,
            handler: str,
            artifact: str,
            sizing: FunctionConfig,
            policy: Any,
            env: dict[str, pulumi.Input[str]],
        ) -> SweepFunction:
            return SweepFunction(
                name,
                FunctionArgs(
                    name=name,
                    handler=handler,
                    artifact=artifacts[artifact],
                    artifact_bucket=storage.code.bucket.bucket,
                    memory_mb=sizing.memory_mb,
                    timeout_s=sizing.timeout_s,
                    reserved_concurrency=sizing.reserved_concurrency,
                    environment={**common, **env, environment.CODE_VERSION: artifacts[artifact].sha256[:12]},
                    policy=policy,
                    log_retention_days=config.log_retention_days,
                    tags=config.tags,
                ),
                self._child,
            )

        orchestrator = function(
            names.orchestrator,
            ORCHESTRATOR_HANDLER,
            "orchestrator",
            config.orchestrator,
            roles.orchestrator,
            {
                environment.WORKER_FUNCTION: names.worker,
                environment.ORCHESTRATOR_FUNCTION: names.orchestrator,
                environment.SEARCH_FUNCTION: names.search,
                environment.SETTINGS_TTL: "300",
                "POWERTOOLS_SERVICE_NAME": "sweep-orchestrator",
            },
        )
        worker = function(
            names.worker,
            WORKER_HANDLER,
            "worker",
            config.worker,
            roles.worker,
            {"POWERTOOLS_SERVICE_NAME": "sweep-worker"},
        )
        # the worker's on-failure destination: same package as the orchestrator, an entry that only
        # reconciles, and a role that may invoke nothing, so a worker cannot cause a dispatch
        reconciler = function(
            names.reconciler,
            RECONCILER_HANDLER,
            "orchestrator",
            config.orchestrator.model_copy(update={"reserved_concurrency": None}),
            roles.reconciler,
            {
                environment.WORKER_FUNCTION: names.worker,
                # records of a failed child dispatcher come from the orchestrator function
                environment.ORCHESTRATOR_FUNCTION: names.orchestrator,
                "POWERTOOLS_SERVICE_NAME": "sweep-reconciler",
            },
        )
        # a search's rounds step with Optuna, which the orchestrator's artifact leaves out: the same
        # package with its `search` extra, invoking only the worker (no fan-out tree, so no path to
        # the orchestrator's API function); S3's outcome notifications and search.step events
        search = function(
            names.search,
            SEARCH_HANDLER,
            "search",
            config.search,
            roles.search,
            {
                environment.WORKER_FUNCTION: names.worker,
                environment.SETTINGS_TTL: "300",
                "POWERTOOLS_SERVICE_NAME": "sweep-search",
            },
        )
        return Functions(orchestrator, worker, reconciler, search)

    def _async_invokes(self, config: StackConfig, functions: Functions) -> None:
        """How Lambda retries the worker's and the orchestrator's async invokes, and where a failed
        one goes: the reconciler."""
        on_failure = aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
            on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                destination=functions.reconciler.function.arn
            )
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{config.prefix}-worker-async",
            function_name=functions.worker.function.name,
            maximum_retry_attempts=config.worker.max_retry_attempts,
            maximum_event_age_in_seconds=config.worker.max_event_age_s,
            destination_config=on_failure,
            opts=self._child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{config.prefix}-orchestrator-async",
            function_name=functions.orchestrator.function.name,
            maximum_retry_attempts=ORCHESTRATOR_ASYNC_RETRIES,
            maximum_event_age_in_seconds=config.worker.max_event_age_s,
            # a child dispatcher that fails for good: its shards become DISPATCH_FAILED at once
            destination_config=on_failure,
            opts=self._child,
        )

    def _api(self, config: StackConfig, functions: Functions) -> HttpApi:
        return HttpApi(
            f"{config.prefix}-http",
            HttpApiArgs(
                name=config.prefix,
                function_name=functions.orchestrator.function.name,
                function_arn=functions.orchestrator.function.arn,
                burst_limit=config.api_throttle.burst_limit,
                rate_limit=config.api_throttle.rate_limit,
                log_retention_days=config.log_retention_days,
                tags=config.tags,
            ),
            self._child,
        )

    def _round_trigger(self, config: StackConfig, storage: Storage, functions: Functions) -> None:
        """Every outcome that lands is announced to the search function, which starts a search's next
        round when its current round's last outcome is in (docs/search.md, "On a stage"). S3 may
        invoke it for this bucket only, from this account (a bucket ARN names no account)."""
        prefix, bucket, function = config.prefix, storage.results.bucket, functions.search.function
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        allow = aws.lambda_.Permission(
            f"{prefix}-outcomes-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="s3.amazonaws.com",
            source_arn=bucket.arn,
            source_account=account,
            opts=self._child,
        )
        aws.s3.BucketNotification(
            f"{prefix}-outcomes-notification",
            bucket=bucket.id,
            lambda_functions=[
                aws.s3.BucketNotificationLambdaFunctionArgs(
                    lambda_function_arn=function.arn,
                    events=["s3:ObjectCreated:*"],
                    filter_prefix=f"{layout.OUTCOMES}/",
                    filter_suffix=".parquet",
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[allow]),
        )

    def _results_key(self, config: StackConfig, child: pulumi.ResourceOptions) -> pulumi.Input[str] | None:
        """The results bucket's KMS key ARN under `sweep:encryption: kms` (the given one, or one
        created here, rotating yearly, named `alias/sweep-<stage>`); None under SSE-S3."""
        if not config.kms:
            return None
        if config.kms_key_arn is not None:
            return config.kms_key_arn  # its key policy is its owner's: it must let IAM policies grant it
        # no `policy`: KMS's default key policy lets the account's IAM policies grant the key, which
        # is how each role gets exactly the use it needs (policies.py)
        key = aws.kms.Key(
            f"{config.prefix}-key",
            description=f"sweep {config.stage}: results bucket and Athena query results",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=config.tags,
            opts=child,
        )
        aws.kms.Alias(f"{config.prefix}-key-alias", name=f"alias/{config.prefix}", target_key_id=key.key_id, opts=child)
        return key.arn
