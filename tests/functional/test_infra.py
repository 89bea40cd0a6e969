"""The Pulumi program for both stacks, under `pulumi.runtime.set_mocks`, with the real stack config
files: every resource that matters exists with the properties asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from sweep_contracts import outputs
from sweep_contracts.outcomes import Outcome
from sweep_contracts.schema import OUTCOMES_TABLE, POINTS_TABLE
from sweep_contracts.settings import SECRETS_PATH, SystemSettings
from sweep_infra import policies
from sweep_infra.api import ROUTES
from sweep_worker.arrow_schema import POINTS_SCHEMA

pytestmark = pytest.mark.slow  # the Pulumi program runs in a subprocess per stack: not in `make test-fast`

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod")
ROLES = ("orchestrator", "worker", "reconciler", "search")
ACCOUNT, REGION = "123456789012", "us-east-1"


@cache
def artifacts_dir() -> str:
    directory = Path(__import__("tempfile").mkdtemp(prefix="sweep-artifacts-"))
    for name in ("orchestrator", "worker", "search"):
        with zipfile.ZipFile(directory / f"{name}.zip", "w") as archive:
            archive.writestr("marker.txt", name)
    return str(directory)


@cache
def program(stack: str, *overrides: str) -> dict[str, Any]:
    """The resources and outputs of `pulumi/__main__.py` for `stack` (one subprocess per stack)."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.infra_mocks", stack, artifacts_dir(), *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def config(stack: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return loaded


def resources(stack: str, kind: str, where: Callable[[dict[str, Any]], bool] = lambda r: True) -> list[dict[str, Any]]:
    return [r for r in program(stack)["resources"] if r["type"] == kind and where(r)]


def one(stack: str, kind: str, name_part: str) -> dict[str, Any]:
    (found,) = resources(stack, kind, lambda r: name_part in r["name"])
    inputs: dict[str, Any] = found["inputs"]
    return inputs


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    stage: str = request.param
    assert "error" not in program(stage), program(stage)["error"]
    return stage


# --- outputs -------------------------------------------------------------------------------------


def test_every_stack_output_the_cli_reads_is_exported(stack: str) -> None:
    exported = program(stack)["outputs"]
    assert set(exported) == set(outputs.ALL)
    assert exported[outputs.PARAMETER_PREFIX] == f"/sweep/{stack}/"
    assert exported[outputs.GLUE_DATABASE] == f"sweep_{stack}"
    assert exported[outputs.ATHENA_WORKGROUP] == f"sweep-{stack}"
    assert exported[outputs.WORKER_FUNCTION] == f"sweep-{stack}-worker"
    assert exported[outputs.API_URL].startswith("https://")


# --- buckets -------------------------------------------------------------------------------------


def test_both_buckets_are_encrypted_private_owner_enforced_and_tls_only(stack: str) -> None:
    buckets = resources(stack, "aws:s3/bucket:Bucket")
    assert {b["name"] for b in buckets} == {f"sweep-{stack}-results", f"sweep-{stack}-artifacts"}
    for name in (b["name"] for b in buckets):
        (sse,) = resources(
            stack,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            lambda r, n=name: r["name"] == f"{n}-encryption",
        )
        # no S3 Bucket Key: it only reduces KMS requests under SSE-KMS and does nothing for SSE-S3
        assert sse["inputs"]["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
        block = one(stack, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-public")
        assert {
            k: block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        } == dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)
        ownership = one(stack, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{name}-ownership")
        assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        policy = json.loads(one(stack, "aws:s3/bucketPolicy:BucketPolicy", f"{name}-tls")["policy"])
        arn = f"arn:aws:s3:::{name}-a1b2c3"
        assert policy == policies.tls_only_bucket_policy(arn)
        (deny,) = policy["Statement"]
        assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_results_lifecycle_per_stage(stack: str) -> None:
    rules = one(stack, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "results")["rules"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}
    assert by_id["expire-athena"]["expiration"] == {"days": 7}
    expiry = config(stack).get("sweep:resultsExpireDays")
    for prefix in ("runs", "points", "outcomes", "started"):
        if expiry is None:
            assert f"expire-{prefix}" not in by_id
        else:
            assert by_id[f"expire-{prefix}"]["expiration"] == {"days": expiry}
            assert by_id[f"expire-{prefix}"]["filter"] == {"prefix": f"{prefix}/"}


# --- catalog -------------------------------------------------------------------------------------


GLUE_TYPES = {
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.float64(): "double",
    pa.string(): "string",
    pa.timestamp("ms", tz="UTC"): "timestamp",
    pa.map_(pa.string(), pa.string()): "map<string,string>",
    pa.map_(pa.string(), pa.float64()): "map<string,double>",
}


def written_outcome_schema() -> pa.Schema:
    import io
    from datetime import UTC, datetime

    import pyarrow.parquet as pq

    outcome = Outcome(
        run_id="r-1",
        shard_id=0,
        status="success",
        points_total=1,
        started_at=datetime.now(UTC),
        finished_at=datetime.now(UTC),
        duration_ms=1.0,
    )
    return pq.read_schema(io.BytesIO(outcome.to_parquet()))


@pytest.mark.parametrize(
    ("table", "written"), [("points", lambda: POINTS_SCHEMA), ("outcomes", written_outcome_schema)]
)
def test_glue_columns_are_exactly_the_columns_the_workers_write(
    stack: str, table: str, written: Callable[[], pa.Schema]
) -> None:
    inputs = one(stack, "aws:glue/catalogTable:CatalogTable", f"catalog-{table}")
    declared = [(c["name"], c["type"]) for c in inputs["storageDescriptor"]["columns"]]
    partitions = [k["name"] for k in inputs["partitionKeys"]]
    files = [(f.name, GLUE_TYPES[f.type]) for f in written() if f.name not in partitions]
    assert declared == files
    spec = POINTS_TABLE if table == "points" else OUTCOMES_TABLE
    assert partitions == list(spec.partition_keys)


def test_tables_use_partition_projection_over_the_layout(stack: str) -> None:
    bucket = f"s3://sweep-{stack}-results-a1b2c3"
    points = one(stack, "aws:glue/catalogTable:CatalogTable", "catalog-points")
    assert points["parameters"] == {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "projection.enabled": "true",
        "projection.run_id.type": "injected",
        "storage.location.template": f"{bucket}/points/run_id=${{run_id}}/",
    }
    outcomes_table = one(stack, "aws:glue/catalogTable:CatalogTable", "catalog-outcomes")
    assert outcomes_table["parameters"]["projection.status.values"] == "success,failure"
    assert outcomes_table["parameters"]["storage.location.template"] == (
        f"{bucket}/outcomes/run_id=${{run_id}}/status=${{status}}/"
    )
    for inputs in (points, outcomes_table):
        assert inputs["tableType"] == "EXTERNAL_TABLE"
        assert inputs["databaseName"] == f"sweep_{stack}"
        assert inputs["storageDescriptor"]["serDeInfo"]["serializationLibrary"].endswith("ParquetHiveSerDe")


def test_athena_workgroup_is_enforced_v3_encrypted_and_capped(stack: str) -> None:
    workgroup = one(stack, "aws:athena/workgroup:Workgroup", "workgroup")
    settings = workgroup["configuration"]
    assert settings["enforceWorkgroupConfiguration"] is True
    assert settings["engineVersion"] == {"selectedEngineVersion": "Athena engine version 3"}
    assert settings["bytesScannedCutoffPerQuery"] == config(stack)["sweep:athenaBytesScannedCutoff"]
    assert settings["resultConfiguration"] == {
        "outputLocation": f"s3://sweep-{stack}-results-a1b2c3/athena/",
        "encryptionConfiguration": {"encryptionOption": "SSE_S3"},
    }


# --- functions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["orchestrator", "worker"])
def test_functions_run_the_fixed_handlers_on_arm64_python312(stack: str, role: str) -> None:
    fn = one(stack, "aws:lambda/function:Function", f"{role}-function")
    sized = config(stack)[f"sweep:{role}"]
    assert (fn["name"], fn["runtime"], fn["architectures"], fn["handler"]) == (
        f"sweep-{stack}-{role}",
        "python3.12",
        ["arm64"],
        f"sweep_{role}.handler.handler",
    )
    assert (fn["memorySize"], fn["timeout"]) == (sized["memoryMb"], sized["timeoutS"])
    assert "reservedConcurrentExecutions" not in fn  # opt-in: see the reservation tests below
    assert fn["s3Bucket"] == f"sweep-{stack}-artifacts-a1b2c3"
    assert fn["s3Key"].startswith(f"lambda/{role}-")
    env = fn["environment"]["variables"]
    assert {k: env[k] for k in ("SWEEP_STAGE", "SWEEP_PARAMETER_PREFIX", "SWEEP_STORE")} == {
        "SWEEP_STAGE": stack,
        "SWEEP_PARAMETER_PREFIX": f"/sweep/{stack}/",
        "SWEEP_STORE": f"s3://sweep-{stack}-results-a1b2c3",
    }
    if role == "orchestrator":
        assert env["SWEEP_WORKER_FUNCTION"] == f"sweep-{stack}-worker"
    assert fn["loggingConfig"] == {"logFormat": "JSON", "logGroup": f"/aws/lambda/sweep-{stack}-{role}"}
    group = one(stack, "aws:cloudwatch/logGroup:LogGroup", f"{role}-logs")
    assert (group["name"], group["retentionInDays"]) == (
        f"/aws/lambda/sweep-{stack}-{role}",
        config(stack)["sweep:logRetentionDays"],
    )


def test_worker_async_invocations_retry_then_go_to_the_reconciler(stack: str) -> None:
    worker = config(stack)["sweep:worker"]
    invoke = one(stack, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "worker-async")
    assert (invoke["maximumRetryAttempts"], invoke["maximumEventAgeInSeconds"]) == (
        worker["maxRetryAttempts"],
        worker["maxEventAgeS"],
    )
    assert invoke["destinationConfig"] == {
        "onFailure": {"destination": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sweep-{stack}-reconciler"}
    }


def test_a_failed_child_dispatcher_goes_to_the_reconciler_which_knows_the_orchestrator(stack: str) -> None:
    invoke = one(stack, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "orchestrator-async")
    assert invoke["destinationConfig"] == {
        "onFailure": {"destination": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sweep-{stack}-reconciler"}
    }
    reconciler = one(stack, "aws:lambda/function:Function", "reconciler")
    assert reconciler["environment"]["variables"]["SWEEP_ORCHESTRATOR_FUNCTION"] == f"sweep-{stack}-orchestrator"


def test_the_event_age_the_orchestrator_checks_is_the_one_the_worker_has(stack: str) -> None:
    # GIVEN the submit-time check reads `max_event_age_s`, Lambda drops queued shards at `maxEventAgeS`
    settings, worker = config(stack)["sweep:settings"], config(stack)["sweep:worker"]
    # THEN both stages use Lambda's maximum (dev had one hour: ~240 of 2,000 shards started, issue 11)
    assert settings["max_event_age_s"] == worker["maxEventAgeS"] == 21_600


def test_the_run_estimate_uses_the_worker_memory_and_timeout_the_stack_deploys(stack: str) -> None:
    # GIVEN the run estimate reads the settings, Lambda bills and stops the worker by its stack config
    settings, worker = config(stack)["sweep:settings"], config(stack)["sweep:worker"]
    fn = one(stack, "aws:lambda/function:Function", "worker-function")
    # THEN the settings, the stack config and the deployed function agree (issue 11, cost and time)
    assert (settings["worker_memory_mb"], settings["worker_timeout_s"]) == (worker["memoryMb"], worker["timeoutS"])
    assert (fn["memorySize"], fn["timeout"]) == (worker["memoryMb"], worker["timeoutS"])


def test_the_reconciler_runs_the_orchestrator_package_through_its_reconcile_only_entry(stack: str) -> None:
    fn = one(stack, "aws:lambda/function:Function", "reconciler-function")
    assert (fn["name"], fn["handler"], fn["runtime"], fn["architectures"]) == (
        f"sweep-{stack}-reconciler",
        "sweep_orchestrator.handler.reconcile_handler",
        "python3.12",
        ["arm64"],
    )
    assert fn["s3Key"].startswith("lambda/orchestrator-")
    assert fn["environment"]["variables"]["SWEEP_WORKER_FUNCTION"] == f"sweep-{stack}-worker"


# --- API -----------------------------------------------------------------------------------------


def test_every_route_needs_sigv4(stack: str) -> None:
    routes = resources(stack, "aws:apigatewayv2/route:Route")
    assert sorted(r["inputs"]["routeKey"] for r in routes) == sorted(ROUTES)
    assert {r["inputs"]["authorizationType"] for r in routes} == {"AWS_IAM"}
    api = one(stack, "aws:apigatewayv2/api:Api", "http-api")
    assert api["protocolType"] == "HTTP"
    integration = one(stack, "aws:apigatewayv2/integration:Integration", "integration")
    assert (integration["integrationType"], integration["payloadFormatVersion"]) == ("AWS_PROXY", "2.0")


def test_changing_settings_is_its_own_route_with_its_own_operator_policy(stack: str) -> None:
    # the admin route exists apart from GET /settings, and a managed policy grants only it
    assert "PUT /settings/{name}" in ROUTES
    policy = one(stack, "aws:iam/policy:Policy", "settings-admin")
    assert policy["name"] == f"sweep-{stack}-settings-admin"
    assert json.loads(policy["policy"])["Statement"] == [
        {
            "Sid": "ChangeStageSettings",
            "Effect": "Allow",
            "Action": ["execute-api:Invoke"],
            "Resource": [f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/*/PUT/settings/*"],
        }
    ]
    assert outputs.SETTINGS_ADMIN_POLICY in program(stack)["outputs"]


def test_the_stage_logs_access_and_throttles(stack: str) -> None:
    stage = one(stack, "aws:apigatewayv2/stage:Stage", "http-stage")
    throttle = config(stack)["sweep:apiThrottle"]
    assert (stage["name"], stage["autoDeploy"]) == ("$default", True)
    assert stage["defaultRouteSettings"] == {
        "throttlingBurstLimit": throttle["burstLimit"],
        "throttlingRateLimit": throttle["rateLimit"],
    }
    assert stage["accessLogSettings"]["destinationArn"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/apigateway/sweep-{stack}"
    )
    assert "$context.identity.userArn" in stage["accessLogSettings"]["format"]


def test_only_this_api_may_invoke_the_orchestrator(stack: str) -> None:
    # beside the results bucket's outcome notifications (test_outcomes_that_land_are_announced_…)
    (permission,) = resources(
        stack, "aws:lambda/permission:Permission", lambda r: r["inputs"]["principal"] != "s3.amazonaws.com"
    )
    assert permission["inputs"] == {
        "action": "lambda:InvokeFunction",
        "function": f"sweep-{stack}-orchestrator",
        "principal": "apigateway.amazonaws.com",
        "sourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/*/*",
    }


def test_outcomes_that_land_are_announced_to_the_search_function_by_this_bucket_only(stack: str) -> None:
    # GIVEN the stack  THEN S3 may invoke the search function for the results bucket, from this account
    (permission,) = resources(
        stack, "aws:lambda/permission:Permission", lambda r: r["inputs"]["principal"] == "s3.amazonaws.com"
    )
    assert permission["inputs"] == {
        "action": "lambda:InvokeFunction",
        "function": f"sweep-{stack}-search",
        "principal": "s3.amazonaws.com",
        "sourceArn": f"arn:aws:s3:::sweep-{stack}-results-a1b2c3",
        "sourceAccount": ACCOUNT,
    }
    # AND the bucket announces every outcome file created, to the search function (Optuna is there)
    (notification,) = resources(stack, "aws:s3/bucketNotification:BucketNotification")
    assert notification["inputs"]["bucket"] == f"sweep-{stack}-results-id"  # the mocks' id of the bucket
    assert notification["inputs"]["lambdaFunctions"] == [
        {
            "events": ["s3:ObjectCreated:*"],
            "filterPrefix": "outcomes/",
            "filterSuffix": ".parquet",
            "lambdaFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sweep-{stack}-search",
        }
    ]
    # AND the orchestrator, whose artifact has no Optuna, is announced nothing
    orchestrator_permissions = resources(
        stack, "aws:lambda/permission:Permission", lambda r: r["inputs"]["function"] == f"sweep-{stack}-orchestrator"
    )
    assert [p["inputs"]["principal"] for p in orchestrator_permissions] == ["apigateway.amazonaws.com"]


def test_the_search_function_steps_rounds_with_its_own_artifact_and_sizing(stack: str) -> None:
    from sweep_infra.config import SEARCH_SIZING

    fn = one(stack, "aws:lambda/function:Function", "search-function")
    assert (fn["name"], fn["handler"], fn["runtime"], fn["architectures"]) == (
        f"sweep-{stack}-search",
        "sweep_orchestrator.search.handler.handler",
        "python3.12",
        ["arm64"],
    )
    assert fn["s3Key"].startswith("lambda/search-")
    assert (fn["memorySize"], fn["timeout"]) == (SEARCH_SIZING["memoryMb"], SEARCH_SIZING["timeoutS"])
    env = fn["environment"]["variables"]
    # it invokes the worker directly: no orchestrator to hand a fan-out to
    assert env["SWEEP_WORKER_FUNCTION"] == f"sweep-{stack}-worker"
    assert "SWEEP_ORCHESTRATOR_FUNCTION" not in env
    assert env["SWEEP_STORE"] == f"s3://sweep-{stack}-results-a1b2c3"
    assert fn["loggingConfig"] == {"logFormat": "JSON", "logGroup": f"/aws/lambda/sweep-{stack}-search"}
    group = one(stack, "aws:cloudwatch/logGroup:LogGroup", "search-logs")
    assert group["retentionInDays"] == config(stack)["sweep:logRetentionDays"]
    # AND the orchestrator knows its name, for the search.step events it sends
    orchestrator = one(stack, "aws:lambda/function:Function", "orchestrator-function")
    assert orchestrator["environment"]["variables"]["SWEEP_SEARCH_FUNCTION"] == f"sweep-{stack}-search"
    assert program(stack)["outputs"][outputs.SEARCH_FUNCTION] == f"sweep-{stack}-search"


def test_a_stage_can_size_its_search_function() -> None:
    # GIVEN `sweep:search` in a stack's config (a search of few trials needs neither a vCPU nor 900 s)
    result = program("dev", 'sweep:search={"memoryMb": 1024, "timeoutS": 300}')
    (fn,) = [
        r["inputs"]
        for r in result["resources"]
        if r["type"] == "aws:lambda/function:Function" and r["inputs"]["name"] == "sweep-dev-search"
    ]
    # THEN the search function has that size
    assert (fn["memorySize"], fn["timeout"]) == (1024, 300)


def test_search_policy_statement_by_statement(stack: str) -> None:
    bucket = f"arn:aws:s3:::sweep-{stack}-results-a1b2c3"
    worker = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sweep-{stack}-worker"
    parameters = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}"
    statements = {s["Sid"]: s for s in role_policy(stack, "search")["Statement"]}
    orchestrator = {s["Sid"]: s for s in role_policy(stack, "orchestrator")["Statement"]}
    assert statements == {
        "WriteOwnLogs": {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/sweep-{stack}-search:*"],
        },
        # a round is planned as submit plans a run: the same reads of the stage, never secrets/
        "ReadStageSettings": orchestrator["ReadStageSettings"],
        "ReadExperimentDefaults": orchestrator["ReadExperimentDefaults"],
        "ReadSecretBindings": orchestrator["ReadSecretBindings"],
        "ReadTaskSets": orchestrator["ReadTaskSets"],
        "DispatchRoundShards": {  # the worker only: not the orchestrator, whose function is the API's
            "Sid": "DispatchRoundShards",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [worker, f"{worker}:*"],
        },
        "ListSearchesRunsOutcomesAndPoints": {
            "Sid": "ListSearchesRunsOutcomesAndPoints",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket],
            "Condition": {"StringLike": {"s3:prefix": ["searches/*", "runs/*", "outcomes/*", "points/*"]}},
        },
        "ReadSearchesRunsAndOutcomes": {  # no points: a round is read from the outcomes' tallies
            "Sid": "ReadSearchesRunsAndOutcomes",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/searches/run_id=*/search.json", f"{bucket}/runs/*", f"{bucket}/outcomes/*"],
        },
        "CreateManifests": orchestrator["CreateManifests"],  # create-only, the orchestrator's condition
        "WriteDispatchRecords": orchestrator["WriteDispatchRecords"],
        "WriteFailureOutcomes": orchestrator["WriteFailureOutcomes"],
    }
    assert statements["ReadStageSettings"]["Resource"][0].startswith(parameters + "/")


def test_the_search_role_cannot_write_points_or_successes_nor_invoke_the_orchestrator(stack: str) -> None:
    bucket = f"arn:aws:s3:::sweep-{stack}-results-a1b2c3"
    fn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sweep-{stack}"
    statements = role_policy(stack, "search")["Statement"]

    def granted(action: str, arn: str) -> bool:
        return any(action in s["Action"] and any(fnmatch(arn, r) for r in s["Resource"]) for s in statements)

    # GIVEN the search role  THEN it may create a round's manifest and invoke the worker
    assert granted("s3:PutObject", f"{bucket}/runs/run_id=s-r001/manifest.json")
    assert granted("lambda:InvokeFunction", f"{fn}-worker")
    # AND it may not write a points file, a success, a search record, nor read points or secrets
    assert not granted("s3:PutObject", f"{bucket}/points/run_id=s-r001/shard=00000-0123456789abcdef-ok1-error0.parquet")
    assert not granted("s3:PutObject", f"{bucket}/outcomes/run_id=s-r001/status=success/shard=00000.parquet")
    assert not granted("s3:PutObject", f"{bucket}/searches/run_id=s/search.json")
    assert not granted("s3:GetObject", f"{bucket}/points/run_id=s-r001/shard=00000.parquet")
    assert not granted("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/secrets/key")
    # AND it may invoke neither the orchestrator (whose handler serves the API) nor the reconciler
    for other in ("orchestrator", "reconciler"):
        assert not granted("lambda:InvokeFunction", f"{fn}-{other}")
        assert not granted("lambda:InvokeFunction", f"{fn}-{other}:live")


# --- IAM -----------------------------------------------------------------------------------------


def role_policy(stack: str, role: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(one(stack, "aws:iam/rolePolicy:RolePolicy", f"{role}-policy")["policy"])
    return document


def test_each_function_has_its_own_role_assumable_only_by_lambda(stack: str) -> None:
    roles = resources(stack, "aws:iam/role:Role")
    assert len(roles) == len(ROLES)  # orchestrator, worker, reconciler, search
    for role in roles:
        assert json.loads(role["inputs"]["assumeRolePolicy"]) == policies.lambda_trust()
    assert resources(stack, "aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []  # no managed policies


def test_orchestrator_policy_statement_by_statement(stack: str) -> None:
    bucket, fn = (
        f"arn:aws:s3:::sweep-{stack}-results-a1b2c3",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sweep-{stack}",
    )
    statements = {s["Sid"]: s for s in role_policy(stack, "orchestrator")["Statement"]}
    assert statements == {
        "WriteOwnLogs": {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/sweep-{stack}-orchestrator:*"],
        },
        "ReadStageSettings": {  # by name: a path read of the stage would reach secrets/
            "Sid": "ReadStageSettings",
            "Effect": "Allow",
            "Action": ["ssm:GetParameters"],
            "Resource": [
                f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/{name}" for name in SystemSettings.names()
            ],
        },
        "ReadExperimentDefaults": {  # recursive, but only under experiments/, a sibling of secrets/
            "Sid": "ReadExperimentDefaults",
            "Effect": "Allow",
            "Action": ["ssm:GetParametersByPath"],
            "Resource": [
                f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/experiments",
                f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/experiments/*",
            ],
        },
        "ReadSecretBindings": {  # where each secret may go, checked at submit; a sibling of secrets/
            "Sid": "ReadSecretBindings",
            "Effect": "Allow",
            "Action": ["ssm:GetParametersByPath"],
            "Resource": [
                f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/secret-bindings",
                f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/secret-bindings/*",
            ],
        },
        "WriteStageSettings": {  # the settings by name and the experiment defaults, never secrets/
            "Sid": "WriteStageSettings",
            "Effect": "Allow",
            "Action": ["ssm:PutParameter"],
            "Resource": [
                *(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/{name}" for name in SystemSettings.names()),
                f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/experiments/*",
            ],
        },
        "DispatchShards": {
            "Sid": "DispatchShards",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [f"{fn}-worker", f"{fn}-worker:*", f"{fn}-orchestrator", f"{fn}-orchestrator:*"],
        },
        "StepSearches": {  # a search submitted or retried: its search.step event
            "Sid": "StepSearches",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [f"{fn}-search", f"{fn}-search:*"],
        },
        "ReportDispatchFailures": {  # the on-failure destination of its own fan-out invocations
            "Sid": "ReportDispatchFailures",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [f"{fn}-reconciler", f"{fn}-reconciler:*"],
        },
        "ReadTaskSets": {  # submit checks a referenced task set: read-only, the documented prefix only
            "Sid": "ReadTaskSets",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/tasksets/*"],
        },
        "ListSearchesRunsOutcomesAndPoints": {  # status counts points from key names, and reads none
            "Sid": "ListSearchesRunsOutcomesAndPoints",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket],
            "Condition": {"StringLike": {"s3:prefix": ["searches/*", "runs/*", "outcomes/*", "points/*"]}},
        },
        "ReadRunsAndOutcomes": {
            "Sid": "ReadRunsAndOutcomes",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/runs/*", f"{bucket}/outcomes/*"],
        },
        "ReadSearches": {  # status and retry of a search read its record
            "Sid": "ReadSearches",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/searches/run_id=*/search.json"],
        },
        "CreateSearchRecords": {  # put-if-absent only, as manifests
            "Sid": "CreateSearchRecords",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket}/searches/run_id=*/search.json"],
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        },
        "CreateManifests": {  # put-if-absent only: a standing manifest is never replaced (issue 22)
            "Sid": "CreateManifests",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket}/runs/run_id=*/manifest.json"],
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        },
        "WriteDispatchRecords": {  # the one plain put under runs/: rewritten by each dispatch
            "Sid": "WriteDispatchRecords",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket}/runs/run_id=*/dispatched.json"],
        },
        "WriteFailureOutcomes": {
            "Sid": "WriteFailureOutcomes",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket}/outcomes/run_id=*/status=failure/*"],
        },
        "ClearStaleFailures": {
            "Sid": "ClearStaleFailures",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject"],
            "Resource": [f"{bucket}/outcomes/run_id=*/status=failure/*"],
        },
    }


def test_worker_policy_statement_by_statement(stack: str) -> None:
    bucket = f"arn:aws:s3:::sweep-{stack}-results-a1b2c3"
    reconciler = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sweep-{stack}-reconciler"
    statements = {s["Sid"]: s for s in role_policy(stack, "worker")["Statement"]}
    assert statements == {
        "WriteOwnLogs": {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/sweep-{stack}-worker:*"],
        },
        "CreatePoints": {  # a points file is created once, under its execution's key: never replaced (issue 22)
            "Sid": "CreatePoints",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket}/points/run_id=*/shard=*.parquet"],
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        },
        "ClearUnvouchedPoints": {  # points files only: nothing else under points/ that Athena would read
            "Sid": "ClearUnvouchedPoints",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject"],
            "Resource": [f"{bucket}/points/run_id=*/shard=*.parquet"],
        },
        "CreateSuccessOutcomes": {
            "Sid": "CreateSuccessOutcomes",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket}/outcomes/run_id=*/status=success/*"],
            # only with If-None-Match: a standing success cannot be replaced, not even by a buggy worker
            "Condition": {"Null": {"s3:if-none-match": "false"}},
        },
        "WriteAndClearFailureOutcomes": {
            "Sid": "WriteAndClearFailureOutcomes",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": [f"{bucket}/outcomes/run_id=*/status=failure/*"],
        },
        "ReadOutcomes": {
            "Sid": "ReadOutcomes",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/outcomes/*"],
        },
        "MarkStartedShards": {  # exactly what the started marker needs: list, put, delete; no read
            "Sid": "MarkStartedShards",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": [f"{bucket}/started/run_id=*/shard=*/*.json"],
        },
        "ListOutcomesPointsAndMarkers": {
            "Sid": "ListOutcomesPointsAndMarkers",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket],
            "Condition": {"StringLike": {"s3:prefix": ["outcomes/*", "points/*", "started/*"]}},
        },
        "ReadTaskSets": {  # read-only, and only the documented prefix
            "Sid": "ReadTaskSets",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/tasksets/*"],
        },
        "ReadExperimentSecrets": {
            "Sid": "ReadExperimentSecrets",
            "Effect": "Allow",
            "Action": ["ssm:GetParameters"],
            "Resource": [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/secrets/*"],
        },
        "ReadSecretBindings": {  # checked before every call: a task can be forged
            "Sid": "ReadSecretBindings",
            "Effect": "Allow",
            "Action": ["ssm:GetParameters"],
            "Resource": [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/secret-bindings/*"],
        },
        "ReportFailuresToReconciler": {
            "Sid": "ReportFailuresToReconciler",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [reconciler, f"{reconciler}:*"],
        },
    }


def test_the_worker_role_cannot_invoke_the_orchestrator_nor_the_reconciler_anything(stack: str) -> None:
    # GIVEN the roles of a stage
    orchestrator = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sweep-{stack}-orchestrator"

    def invokable(role: str) -> list[str]:
        return [
            resource
            for statement in role_policy(stack, role)["Statement"]
            if "lambda:InvokeFunction" in statement["Action"]
            for resource in statement["Resource"]
        ]

    # THEN experiment code in a worker can reach no function that dispatches: the worker may invoke
    # only the reconciler, and the reconciler may invoke nothing
    assert not [r for r in invokable("worker") if r.startswith(orchestrator)]
    assert invokable("worker") == [
        f"{orchestrator.replace('orchestrator', 'reconciler')}",
        f"{orchestrator.replace('orchestrator', 'reconciler')}:*",
    ]
    assert invokable("reconciler") == []


def test_reconciler_policy_statement_by_statement(stack: str) -> None:
    bucket = f"arn:aws:s3:::sweep-{stack}-results-a1b2c3"
    statements = {s["Sid"]: s for s in role_policy(stack, "reconciler")["Statement"]}
    assert statements == {
        "WriteOwnLogs": {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/sweep-{stack}-reconciler:*"],
        },
        "ListRunsAndOutcomes": {
            "Sid": "ListRunsAndOutcomes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket],
            "Condition": {"StringLike": {"s3:prefix": ["runs/*", "outcomes/*"]}},
        },
        "ReadRunsAndOutcomes": {
            "Sid": "ReadRunsAndOutcomes",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{bucket}/runs/*", f"{bucket}/outcomes/*"],
        },
        "WriteFailureOutcomes": {
            "Sid": "WriteFailureOutcomes",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket}/outcomes/run_id=*/status=failure/*"],
        },
    }


def test_no_role_can_put_a_success_outcome_without_if_none_match(stack: str) -> None:
    # GIVEN a success outcome's key in the stack's bucket
    success = f"arn:aws:s3:::sweep-{stack}-results-a1b2c3/outcomes/run_id=r-1/status=success/shard=00000.parquet"
    granting = []
    for role in ROLES:
        for statement in role_policy(stack, role)["Statement"]:
            if "s3:PutObject" in statement["Action"] and any(fnmatch(success, r) for r in statement["Resource"]):
                granting.append((role, statement))
    # THEN only the worker may put it, and only as a conditional create (S3 answers 412 to a PUT
    # with If-None-Match over an existing key): a standing success is never replaced
    assert [role for role, _ in granting] == ["worker"]
    assert granting[0][1]["Condition"] == {"Null": {"s3:if-none-match": "false"}}


@pytest.mark.parametrize(
    ("key", "writers"),
    [
        ("runs/run_id=r-1/manifest.json", ["orchestrator", "search"]),  # a run; a search's round
        ("points/run_id=r-1/shard=00000-0123456789abcdef-ok3-error0.parquet", ["worker"]),
        ("searches/run_id=s-1/search.json", ["orchestrator"]),  # submit records a search
    ],
)
def test_a_manifest_and_a_points_file_are_only_ever_created_never_replaced_issue_22(
    stack: str, key: str, writers: list[str]
) -> None:
    # GIVEN a manifest's and a points file's key in the stack's bucket
    arn = f"arn:aws:s3:::sweep-{stack}-results-a1b2c3/{key}"
    granting = [
        (role, statement)
        for role in ROLES
        for statement in role_policy(stack, role)["Statement"]
        if "s3:PutObject" in statement["Action"] and any(fnmatch(arn, r) for r in statement["Resource"])
    ]
    # THEN only its writers may put it, and only with If-None-Match (S3 answers 412 over an existing
    # key): a run's manifest, the points file a success names, a search's record cannot be overwritten
    assert [role for role, _ in granting] == writers
    assert all(statement["Condition"] == {"Null": {"s3:if-none-match": "false"}} for _, statement in granting)


def test_no_role_but_the_worker_can_read_experiment_secrets(stack: str) -> None:
    # GIVEN every SSM statement of every role
    secrets = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/{SECRETS_PATH}"
    for role in ROLES:
        for statement in role_policy(stack, role)["Statement"]:
            if not any(action.startswith("ssm:") for action in statement["Action"]):
                continue
            # THEN only the worker's GetParameters names the secrets path; the paths read
            # (authorized against the path asked for, whatever lies below it) are under experiments/
            # and secret-bindings/, siblings of secrets/
            bindings = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/secret-bindings"
            if role == "worker":
                assert statement["Action"] == ["ssm:GetParameters"]  # the secret with its binding, in one call
                assert statement["Resource"] in ([secrets + "*"], [bindings + "/*"])
            else:
                assert not [r for r in statement["Resource"] if r.startswith(secrets.rstrip("/"))], role
                experiments = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/{stack}/experiments"
                sibling = {"ReadExperimentDefaults": experiments, "ReadSecretBindings": bindings}.get(
                    statement.get("Sid", "")
                )
                if "ssm:GetParametersByPath" in statement["Action"] and sibling is not None:
                    assert all(r in (sibling, sibling + "/*") for r in statement["Resource"]), role
                else:
                    # no path read of an ancestor of secrets/ (the stage path, `/sweep`, `/`)
                    assert "ssm:GetParametersByPath" not in statement["Action"], role
                    assert "Condition" not in statement, role  # no reliance on an undocumented key


def test_no_wildcard_action_and_no_star_resource_in_any_role(stack: str) -> None:
    for role in ROLES:
        for statement in role_policy(stack, role)["Statement"]:
            assert statement["Effect"] == "Allow"
            assert all("*" not in action for action in statement["Action"]), statement
            assert all(resource != "*" and not resource.endswith(":*:*") for resource in statement["Resource"])


# --- parameters ----------------------------------------------------------------------------------


def test_every_stage_setting_is_an_ssm_parameter_with_the_stack_value(stack: str) -> None:
    params = {p["inputs"]["name"]: p["inputs"] for p in resources(stack, "aws:ssm/parameter:Parameter")}
    configured = config(stack)["sweep:settings"]
    expected = SystemSettings.resolve(configured, source="file", strict=True).values()
    assert {n: (p["type"], p["value"]) for n, p in params.items()} == {
        f"/sweep/{stack}/{name}": ("String", str(value)) for name, value in expected.items()
    }


def test_settings_parameters_take_over_one_seeded_before_the_first_deploy(stack: str) -> None:
    # GIVEN `sweep params seed` ran before the first `pulumi up` (the provider creates with Overwrite off)
    # WHEN the program declares the stage's settings
    params = resources(stack, "aws:ssm/parameter:Parameter")
    # THEN every one is created with Overwrite on, so PutParameter does not fail with ParameterAlreadyExists
    assert params
    assert all(p["inputs"].get("overwrite") is True for p in params)


def test_no_secret_parameter_is_a_pulumi_resource(stack: str) -> None:
    # GIVEN `refresh: always` would read any managed SecureString's value into the state
    params = resources(stack, "aws:ssm/parameter:Parameter")
    # THEN the program manages no SecureString and nothing under secrets/ (`sweep params set-secret` owns them) …
    assert [p["name"] for p in params if p["inputs"]["type"] != "String"] == []
    assert [p["name"] for p in params if f"/{SECRETS_PATH}" in p["inputs"]["name"]] == []
    # … and no parameter carries a write-only value either: a value the program holds is a setting's
    assert all("valueWo" not in p["inputs"] for p in params)


def test_a_stack_config_that_still_names_secrets_says_how_to_move_on() -> None:
    result = program("dev", 'sweep:secrets=["ollama_api_key"]')
    # the message says what is wrong, the hint (after "Fix it with:") how to move on
    assert result["error"] == (
        "RunError: stack config `secrets` of stack `dev` is no longer read: secrets are not Pulumi resources "
        "(their values would be read into the state). Fix it with: pulumi config rm --stack dev sweep:secrets, "
        "and create each secret with: uv run sweep params set-secret NAME --stage dev < FILE"
    )


def test_ssm_high_throughput_is_off_unless_a_stage_turns_it_on(stack: str) -> None:
    # GIVEN the shipped stacks: standard throughput (40 TPS, no charge per call)
    assert resources(stack, "aws:ssm/serviceSetting:ServiceSetting") == []


def test_a_stage_can_turn_on_ssm_high_throughput_and_destroying_it_keeps_it_on() -> None:
    result = program("dev", "sweep:ssmHighThroughput=true")
    (setting,) = [r for r in result["resources"] if r["type"] == "aws:ssm/serviceSetting:ServiceSetting"]
    assert (setting["inputs"]["settingId"], setting["inputs"]["settingValue"]) == (
        "/ssm/parameter-store/high-throughput-enabled",
        "true",
    )
    # account-wide: `pulumi destroy` of one stage must not reset it under another
    assert setting["name"] in result["retained"]
    # and the stage's settings say so: no fan-out warning at submit, its price in the run estimate
    params = {
        r["inputs"]["name"]: r["inputs"]["value"]
        for r in result["resources"]
        if r["type"] == "aws:ssm/parameter:Parameter"
    }
    assert params["/sweep/dev/ssm_high_throughput"] == "1"


def test_without_high_throughput_the_stage_setting_is_off(stack: str) -> None:
    params = {p["inputs"]["name"]: p["inputs"]["value"] for p in resources(stack, "aws:ssm/parameter:Parameter")}
    assert params[f"/sweep/{stack}/ssm_high_throughput"] == "0"


# --- reserved concurrency ------------------------------------------------------------------------


def test_no_stage_reserves_concurrency_unless_its_config_says_so(stack: str) -> None:
    # GIVEN the stack files as shipped (a new account may have a quota of 10 or 50, not 1,000)
    assert "reservedConcurrency" not in config(stack)["sweep:worker"]
    assert "reservedConcurrency" not in config(stack)["sweep:orchestrator"]
    # THEN no function asks Lambda for a reservation
    functions = resources(stack, "aws:lambda/function:Function")
    assert [f["inputs"].get("reservedConcurrentExecutions") for f in functions] == [None] * len(ROLES)


def test_a_stage_can_opt_in_to_a_reservation() -> None:
    result = program("dev", 'sweep:worker={"memoryMb": 1769, "timeoutS": 300, "reservedConcurrency": 20}')
    reserved = {
        r["inputs"]["name"]: r["inputs"].get("reservedConcurrentExecutions")
        for r in result["resources"]
        if r["type"] == "aws:lambda/function:Function"
    }
    assert reserved == {
        "sweep-dev-orchestrator": None,
        "sweep-dev-worker": 20,
        "sweep-dev-reconciler": None,
        "sweep-dev-search": None,
    }


# --- config errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "sweep:logRetentionDays=<unset>",
            "stack config `logRetentionDays` of stack `dev`: Field required. "
            "Fix it with: pulumi config set --stack dev sweep:logRetentionDays 14",
        ),
        (
            'sweep:worker={"memoryMb": 64, "timeoutS": 300}',
            "stack config `worker.memoryMb` of stack `dev`: Input should be greater than or equal to 128. "
            "Fix it with: pulumi config set --path --stack dev sweep:worker.memoryMb 1769",
        ),
        (
            'sweep:settings={"max_point": 5}',
            "stack config `settings.max_point` of stack `dev`: `max_point` is not a setting; did you mean `max_points`?",
        ),
        (
            'sweep:worker={"memoryMb": 512, "timeoutS": 5}',
            "settings.time_budget_margin_ms (10000) must be below the worker's timeout (5 s)",
        ),
    ],
)
def test_config_errors_name_the_key_and_the_fix(override: str, message: str) -> None:
    # (pulumi.RunError: Pulumi prints the message alone, without a traceback)
    result = program("dev", override)
    assert message in result["error"]


def test_missing_prebuilt_artifacts_say_how_to_build_them() -> None:
    result = program("dev", "sweep:artifactsDir=/nonexistent/lambda")
    assert result["error"].startswith(
        "RunError: /nonexistent/lambda/orchestrator.zip does not exist: build it with `make package`"
    )


def test_experiment_defaults_from_the_stack_config_become_parameters() -> None:
    # GIVEN maze defaults in the stack config
    result = program("dev", 'sweep:experiments={"maze": {"max_moves": 800, "strategy": "wall-follower"}}')
    # THEN each is a String parameter under experiments/, checked by maze's config model
    found = {
        r["inputs"]["name"]: r["inputs"]["value"]
        for r in result["resources"]
        if r["type"] == "aws:ssm/parameter:Parameter" and "/experiments/" in r["inputs"]["name"]
    }
    assert found == {
        "/sweep/dev/experiments/maze/max_moves": "800",
        "/sweep/dev/experiments/maze/strategy": "wall-follower",
    }


def test_secret_bindings_from_the_stack_config_become_parameters() -> None:
    # GIVEN a settings admin binds the key to one https endpoint (default port) and one header
    bindings = '{"api_key": {"endpoints": ["https://API.example.com"], "header": "X-API-Key"}}'
    result = program("dev", f"sweep:secretBindings={bindings}")
    # THEN `pulumi up` writes it, normalised, as a String under secret-bindings/ (what both functions read)
    found = {
        r["inputs"]["name"]: (r["inputs"]["type"], r["inputs"]["value"])
        for r in result["resources"]
        if r["type"] == "aws:ssm/parameter:Parameter" and "/secret-bindings/" in r["inputs"]["name"]
    }
    assert found == {
        "/sweep/dev/secret-bindings/api_key": (
            "String",
            '{"endpoints":["https://api.example.com:443"],"header":"X-API-Key"}',
        )
    }


def test_a_binding_to_plain_http_stops_the_deploy_naming_it() -> None:
    result = program("dev", 'sweep:secretBindings={"api_key": {"endpoints": ["http://api.example.com"]}}')
    assert result["error"] == (
        "RunError: stack config `secretBindings.api_key.endpoints` of stack `dev`: 'http://api.example.com' is plain "
        "http to a host that is not loopback: a key may travel only over https. Fix it with: pulumi config set "
        "--path --stack dev sweep:secretBindings.api_key.endpoints[0] https://api.openai.com"
    )


def test_a_bad_experiment_default_in_the_stack_config_stops_the_deploy_naming_it() -> None:
    result = program("dev", 'sweep:experiments={"maze": {"max_moves": -1}}')
    assert (
        "stack config `experiments.maze.max_moves` of stack `dev`: `max_moves` of experiment `maze` cannot be -1"
        in (result["error"])
    )


# --- per-stage encryption (issue 22, item 11) ----------------------------------------------------

GIVEN_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CREATED_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/sweep-dev-key-id"


def of(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in result["resources"] if r["type"] == kind]


def kms_statements(result: dict[str, Any], role: str) -> list[dict[str, Any]]:
    (policy,) = [r for r in of(result, "aws:iam/rolePolicy:RolePolicy") if r["name"].endswith(f"{role}-policy")]
    statements: list[dict[str, Any]] = json.loads(policy["inputs"]["policy"])["Statement"]
    return [s for s in statements if any(a.startswith("kms:") for a in s["Action"])]


def test_a_stage_is_sse_s3_with_no_key_and_no_kms_grant_unless_it_asks(stack: str) -> None:
    # GIVEN the stack files as shipped (no `sweep:encryption`)
    assert "sweep:encryption" not in config(stack)
    result = program(stack)
    # THEN no key is created and no role may use one
    assert of(result, "aws:kms/key:Key") == []
    assert of(result, "aws:kms/alias:Alias") == []
    assert all(kms_statements(result, role) == [] for role in ROLES)


@pytest.mark.parametrize("given", [False, True], ids=["key-created-by-the-stack", "key-given-by-arn"])
def test_a_kms_stage_encrypts_its_results_with_its_key_and_grants_each_role_only_that_key_via_s3(
    given: bool,
) -> None:
    # GIVEN a stage with `sweep:encryption: kms`, its key created by the stack or given by ARN
    overrides = ["sweep:encryption=kms", *([f"sweep:kmsKeyArn={GIVEN_KEY}"] if given else [])]
    result = program("dev", *overrides)
    assert "error" not in result, result.get("error")
    key_arn = GIVEN_KEY if given else CREATED_KEY
    # THEN a created key rotates and is named `alias/sweep-<stage>`; a given key is not created
    keys = of(result, "aws:kms/key:Key")
    if given:
        assert keys == []
        assert of(result, "aws:kms/alias:Alias") == []
    else:
        (key,) = keys
        assert key["inputs"]["enableKeyRotation"] is True
        (alias,) = of(result, "aws:kms/alias:Alias")
        assert alias["inputs"]["name"] == "alias/sweep-dev"
        assert alias["inputs"]["targetKeyId"] == "sweep-dev-key-id"
    # AND the results bucket's default encryption is SSE-KMS with that key and an S3 Bucket Key
    # (the artifacts bucket stays SSE-S3: Lambda reads code with the deployer's credentials)
    sse = {
        r["name"]: r["inputs"]["rules"]
        for r in of(result, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    }
    assert sse["sweep-dev-results-encryption"] == [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn},
            "bucketKeyEnabled": True,
        }
    ]
    assert sse["sweep-dev-artifacts-encryption"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    # AND each role that reads and writes the bucket may use exactly that key, only through S3
    for role in ROLES:
        assert kms_statements(result, role) == [
            {
                "Sid": "UseResultsKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": [key_arn],
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}},
            }
        ], role
    # AND Athena writes its query results with the same key
    (workgroup,) = of(result, "aws:athena/workgroup:Workgroup")
    assert workgroup["inputs"]["configuration"]["resultConfiguration"]["encryptionConfiguration"] == {
        "encryptionOption": "SSE_KMS",
        "kmsKeyArn": key_arn,
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ("sweep:encryption=aes",),
            "stack config `encryption` of stack `dev`: Input should be 'sse-s3' or 'kms'. "
            "Fix it with: pulumi config set --stack dev sweep:encryption kms",
        ),
        (
            (f"sweep:kmsKeyArn={GIVEN_KEY}",),
            "stack config `kmsKeyArn` of stack `dev`: a key ARN is only used with `encryption: kms` (the stage "
            "is `sse-s3`). Fix it with: pulumi config set --stack dev sweep:encryption kms",
        ),
        (
            ("sweep:encryption=kms", "sweep:kmsKeyArn=alias/my-key"),
            "stack config `kmsKeyArn` of stack `dev`: `alias/my-key` is not a KMS key ARN "
            "(arn:aws:kms:<region>:<account>:key/<key id>; an alias cannot be granted in IAM). "
            "Fix it with: pulumi config set --stack dev sweep:kmsKeyArn arn:aws:kms:us-east-1:111122223333:key/<key id>",
        ),
    ],
    ids=["unknown-encryption", "arn-without-kms", "alias-not-arn"],
)
def test_encryption_config_errors_name_the_key_the_value_and_the_fix(overrides: tuple[str, ...], message: str) -> None:
    result = program("dev", *overrides)
    assert result.get("error", "").endswith(message), result.get("error")
