"""One stage of sweep: every resource, wired. The stack outputs are named by
`sweep_contracts.outputs`, which the CLI reads."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from sweep_contracts import environment, layout, outputs
from sweep_contracts.settings import SECRETS_PATH
from sweep_infra import policies
from sweep_infra.api import HttpApi, HttpApiArgs
from sweep_infra.catalog import ResultsCatalog, ResultsCatalogArgs
from sweep_infra.config import StackConfig
from sweep_infra.functions import FunctionArgs, SweepFunction
from sweep_infra.packaging import Artifact
from sweep_infra.parameters import StageParameters, StageParametersArgs
from sweep_infra.storage import Expiry, SecureBucket, SecureBucketArgs

ORCHESTRATOR_HANDLER = "sweep_orchestrator.handler.handler"
RECONCILER_HANDLER = "sweep_orchestrator.handler.reconcile_handler"
WORKER_HANDLER = "sweep_worker.handler.handler"
ATHENA_RESULTS_DAYS = 7
SSM_HIGH_THROUGHPUT = "/ssm/parameter-store/high-throughput-enabled"
ORCHESTRATOR_ASYNC_RETRIES = 2  # its own fan-out invocations: Lambda retries a failed dispatcher twice


class SweepStack(pulumi.ComponentResource):
    def __init__(
        self, name: str, config: StackConfig, artifacts: dict[str, Artifact], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sweep:stack:SweepStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags, prefix, stage = config.tags, config.prefix, config.stage
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition

        expiries = [Expiry("athena/", ATHENA_RESULTS_DAYS)]
        if config.results_expire_days:
            expiries += [Expiry(p, config.results_expire_days) for p in ("runs/", "points/", "outcomes/", "started/")]
        results_key = self._results_key(config, child)
        results = SecureBucket(
            f"{prefix}-results", SecureBucketArgs(tags, expiries, config.force_destroy, results_key), child
        )
        code = SecureBucket(f"{prefix}-artifacts", SecureBucketArgs(tags, [], config.force_destroy), child)
        catalog = ResultsCatalog(
            f"{prefix}-catalog",
            ResultsCatalogArgs(
                database=f"sweep_{stage.replace('-', '_')}",
                workgroup=prefix,
                bucket=results.bucket.bucket,
                bytes_scanned_cutoff=config.athena_bytes_scanned_cutoff,
                tags=tags,
                force_destroy=config.force_destroy,
                kms_key_arn=results_key,
            ),
            child,
        )
        StageParameters(
            f"{prefix}-parameters",
            StageParametersArgs(
                config.parameter_prefix,
                config.effective_settings(),
                tags,
                config.experiment_parameters(),
                config.binding_parameters(),
            ),
            child,
        )

        if config.ssm_high_throughput:
            # Account- and region-wide, shared by every stage there: kept when this stack is destroyed,
            # so destroying one stage does not throttle another (turn off: docs/deploy.md).
            aws.ssm.ServiceSetting(
                f"{prefix}-ssm-high-throughput",
                setting_id=SSM_HIGH_THROUGHPUT,
                setting_value="true",
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )

        orchestrator_name, worker_name = f"{prefix}-orchestrator", f"{prefix}-worker"
        reconciler_name = f"{prefix}-reconciler"

        def arn(service: str, resource: str) -> pulumi.Output[str]:
            return pulumi.Output.concat("arn:", partition, f":{service}:{config.region}:", account, f":{resource}")

        orchestrator_arn = arn("lambda", f"function:{orchestrator_name}")
        worker_arn = arn("lambda", f"function:{worker_name}")
        reconciler_arn = arn("lambda", f"function:{reconciler_name}")
        parameters_arn = arn("ssm", "parameter" + config.parameter_prefix.rstrip("/"))
        store = pulumi.Output.concat("s3://", results.bucket.bucket)
        common: dict[str, pulumi.Input[str]] = {
            environment.STAGE: stage,
            environment.PARAMETER_PREFIX: config.parameter_prefix,
            environment.STORE: store,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }

        # every role reads and writes the results bucket: each may use its key (if any), through S3 only
        key_arn: pulumi.Input[str] = results_key if results_key is not None else ""

        def grant(arn: str) -> policies.ResultsKey | None:
            return policies.ResultsKey(arn, config.region) if arn else None

        def orchestrator_policy(log_group_arn: str) -> pulumi.Output[str]:
            return pulumi.Output.all(
                results.bucket.arn, parameters_arn, worker_arn, orchestrator_arn, reconciler_arn, key_arn
            ).apply(
                lambda a: json.dumps(
                    policies.orchestrator_policy(
                        log_group_arn=log_group_arn,
                        bucket_arn=a[0],
                        parameter_path_arn=a[1],
                        worker_arn=a[2],
                        orchestrator_arn=a[3],
                        reconciler_arn=a[4],
                        results_key=grant(a[5]),
                    )
                )
            )

        def worker_policy(log_group_arn: str) -> pulumi.Output[str]:
            return pulumi.Output.all(results.bucket.arn, parameters_arn, reconciler_arn, key_arn).apply(
                lambda a: json.dumps(
                    policies.worker_policy(
                        log_group_arn=log_group_arn,
                        bucket_arn=a[0],
                        secrets_path_arn=a[1] + "/" + SECRETS_PATH.rstrip("/"),
                        reconciler_arn=a[2],
                        results_key=grant(a[3]),
                    )
                )
            )

        def reconciler_policy(log_group_arn: str) -> pulumi.Output[str]:
            return pulumi.Output.all(results.bucket.arn, key_arn).apply(
                lambda a: json.dumps(
                    policies.reconciler_policy(log_group_arn=log_group_arn, bucket_arn=a[0], results_key=grant(a[1]))
                )
            )

        orchestrator = SweepFunction(
            f"{prefix}-orchestrator",
            FunctionArgs(
                name=orchestrator_name,
                handler=ORCHESTRATOR_HANDLER,
                artifact=artifacts["orchestrator"],
                artifact_bucket=code.bucket.bucket,
                memory_mb=config.orchestrator.memory_mb,
                timeout_s=config.orchestrator.timeout_s,
                reserved_concurrency=config.orchestrator.reserved_concurrency,
                environment={
                    **common,
                    environment.WORKER_FUNCTION: worker_name,
                    environment.ORCHESTRATOR_FUNCTION: orchestrator_name,
                    environment.SETTINGS_TTL: "300",
                    environment.CODE_VERSION: artifacts["orchestrator"].sha256[:12],
                    "POWERTOOLS_SERVICE_NAME": "sweep-orchestrator",
                },
                policy=orchestrator_policy,
                log_retention_days=config.log_retention_days,
                tags=tags,
            ),
            child,
        )
        worker = SweepFunction(
            f"{prefix}-worker",
            FunctionArgs(
                name=worker_name,
                handler=WORKER_HANDLER,
                artifact=artifacts["worker"],
                artifact_bucket=code.bucket.bucket,
                memory_mb=config.worker.memory_mb,
                timeout_s=config.worker.timeout_s,
                reserved_concurrency=config.worker.reserved_concurrency,
                environment={
                    **common,
                    environment.CODE_VERSION: artifacts["worker"].sha256[:12],
                    "POWERTOOLS_SERVICE_NAME": "sweep-worker",
                },
                policy=worker_policy,
                log_retention_days=config.log_retention_days,
                tags=tags,
            ),
            child,
        )
        # the worker's on-failure destination: same package as the orchestrator, an entry that only
        # reconciles, and a role that may invoke nothing, so a worker cannot cause a dispatch
        reconciler = SweepFunction(
            reconciler_name,
            FunctionArgs(
                name=reconciler_name,
                handler=RECONCILER_HANDLER,
                artifact=artifacts["orchestrator"],
                artifact_bucket=code.bucket.bucket,
                memory_mb=config.orchestrator.memory_mb,
                timeout_s=config.orchestrator.timeout_s,
                environment={
                    **common,
                    environment.WORKER_FUNCTION: worker_name,
                    # records of a failed child dispatcher come from the orchestrator function
                    environment.ORCHESTRATOR_FUNCTION: orchestrator_name,
                    environment.CODE_VERSION: artifacts["orchestrator"].sha256[:12],
                    "POWERTOOLS_SERVICE_NAME": "sweep-reconciler",
                },
                policy=reconciler_policy,
                log_retention_days=config.log_retention_days,
                tags=tags,
            ),
            child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{prefix}-worker-async",
            function_name=worker.function.name,
            maximum_retry_attempts=config.worker.max_retry_attempts,
            maximum_event_age_in_seconds=config.worker.max_event_age_s,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=reconciler.function.arn
                )
            ),
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{prefix}-orchestrator-async",
            function_name=orchestrator.function.name,
            maximum_retry_attempts=ORCHESTRATOR_ASYNC_RETRIES,
            maximum_event_age_in_seconds=config.worker.max_event_age_s,
            # a child dispatcher that fails for good: its shards become DISPATCH_FAILED at once
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=reconciler.function.arn
                )
            ),
            opts=child,
        )
        api = HttpApi(
            f"{prefix}-http",
            HttpApiArgs(
                name=prefix,
                function_name=orchestrator.function.name,
                function_arn=orchestrator.function.arn,
                burst_limit=config.api_throttle.burst_limit,
                rate_limit=config.api_throttle.rate_limit,
                log_retention_days=config.log_retention_days,
                tags=tags,
            ),
            child,
        )
        self._round_trigger(prefix, results.bucket, orchestrator.function, account, child)
        self.outputs: dict[str, pulumi.Input[str]] = {
            outputs.API_URL: api.url,
            outputs.REGION: config.region,
            outputs.RESULTS_BUCKET: results.bucket.bucket,
            outputs.GLUE_DATABASE: catalog.database.name,
            outputs.ATHENA_WORKGROUP: catalog.workgroup.name,
            outputs.PARAMETER_PREFIX: config.parameter_prefix,
            outputs.ORCHESTRATOR_FUNCTION: orchestrator.function.name,
            outputs.WORKER_FUNCTION: worker.function.name,
            outputs.ARTIFACT_BUCKET: code.bucket.bucket,
            outputs.SETTINGS_ADMIN_POLICY: api.admin_policy.arn,
        }
        self.register_outputs(self.outputs)

    def _round_trigger(
        self,
        prefix: str,
        bucket: aws.s3.Bucket,
        function: aws.lambda_.Function,
        account: pulumi.Input[str],
        child: pulumi.ResourceOptions,
    ) -> None:
        """Every outcome that lands is announced to the orchestrator, which starts a search's next
        round when its current round's last outcome is in (docs/search.md, "On a stage"). S3 may
        invoke it for this bucket only, from this account (a bucket ARN names no account)."""
        allow = aws.lambda_.Permission(
            f"{prefix}-outcomes-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="s3.amazonaws.com",
            source_arn=bucket.arn,
            source_account=account,
            opts=child,
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
