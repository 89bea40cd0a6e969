"""The roles' S3 permissions under moto's IAM enforcement: an identity holding exactly the policy the
Pulumi program attaches can do its job and nothing outside its key prefixes. (moto enforces S3
key-prefix resources faithfully but not conditions: those on s3:prefix and s3:if-none-match are
asserted on the documents in tests/functional/test_infra.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from sweep_aws.s3 import S3Store
from sweep_infra import policies

BUCKET, ACCOUNT, REGION = "sweep-test-results", "123456789012", "us-east-1"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sweep-test"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/sweep-test"

WORKER = policies.worker_policy(
    log_group_arn=LOGS,
    bucket_arn=BUCKET_ARN,
    secrets_path_arn=f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/test/secrets",
    reconciler_arn=f"{FUNCTION}-reconciler",
)
ORCHESTRATOR = policies.orchestrator_policy(
    log_group_arn=LOGS,
    bucket_arn=BUCKET_ARN,
    parameter_path_arn=f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/test",
    worker_arn=f"{FUNCTION}-worker",
    orchestrator_arn=f"{FUNCTION}-orchestrator",
    reconciler_arn=f"{FUNCTION}-reconciler",
    search_arn=f"{FUNCTION}-search",
)
SEARCH = policies.search_policy(
    log_group_arn=LOGS,
    bucket_arn=BUCKET_ARN,
    parameter_path_arn=f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/sweep/test",
    worker_arn=f"{FUNCTION}-worker",
)


def denied(action: Callable[[], Any]) -> bool:
    try:
        action()
    except ClientError as exc:
        return exc.response["Error"]["Code"] in ("AccessDenied", "403")
    return False


def as_role(policy: dict[str, Any]) -> Any:
    """Set up (unauthenticated, the first 4 calls) a bucket and a user holding exactly `policy`;
    return an S3 client acting as that user."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="role")
    iam.put_user_policy(UserName="role", PolicyName="role", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="role")["AccessKey"]
    return boto3.client(
        "s3", region_name=REGION, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )


@set_initial_no_auth_action_count(4)
@mock_aws
def test_the_worker_writes_points_and_outcomes_and_nothing_else(aws_env: None) -> None:
    s3 = as_role(WORKER)
    # its job
    s3.put_object(Bucket=BUCKET, Key="points/run_id=r/shard=00000.parquet", Body=b"p", IfNoneMatch="*")
    s3.delete_object(Bucket=BUCKET, Key="points/run_id=r/shard=00000.parquet")
    s3.put_object(Bucket=BUCKET, Key="outcomes/run_id=r/status=success/shard=00000.parquet", Body=b"o", IfNoneMatch="*")
    s3.delete_object(Bucket=BUCKET, Key="outcomes/run_id=r/status=failure/shard=00000.parquet")
    marker = "started/run_id=r/shard=00000/0123456789abcdef.json"
    s3.put_object(Bucket=BUCKET, Key=marker, Body=b"{}")
    s3.delete_object(Bucket=BUCKET, Key=marker)
    assert not denied(lambda: s3.get_object(Bucket=BUCKET, Key="tasksets/set.jsonl"))  # (missing: NoSuchKey)
    # not its job
    assert denied(lambda: s3.get_object(Bucket=BUCKET, Key=marker))  # listed, never read
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="started/elsewhere.json", Body=b"{}"))
    # task sets: read, never written
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="tasksets/set.jsonl", Body=b"{}"))
    assert denied(lambda: s3.get_object(Bucket=BUCKET, Key="runs/run_id=r/tasksets/set.jsonl"))
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="runs/run_id=r/manifest.json", Body=b"m"))
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="elsewhere.txt", Body=b"x"))
    assert denied(lambda: s3.get_object(Bucket=BUCKET, Key="points/run_id=r/shard=00000.parquet"))
    assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key="runs/run_id=r/manifest.json"))
    # points files only, by their key shape: nothing else under points/ for Athena to read (issue 22)
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="points/run_id=r/notes.csv", Body=b"x", IfNoneMatch="*"))
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="points/elsewhere.parquet", Body=b"x", IfNoneMatch="*"))
    assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key="points/run_id=r/notes.csv"))
    # a success, once created, is not the worker's to delete
    assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key="outcomes/run_id=r/status=success/shard=00000.parquet"))


@set_initial_no_auth_action_count(4)
@mock_aws
def test_the_orchestrator_writes_manifests_and_failures_and_reads_no_points(aws_env: None) -> None:
    s3 = as_role(ORCHESTRATOR)
    store = S3Store(BUCKET, client=s3)
    # an id with no search record reads as missing (GET /runs/{id} of an unknown id is a 404)
    assert store.get("searches/run_id=r/search.json") is None
    assert store.put_if_absent("searches/run_id=s/search.json", b"{}")
    assert store.get("searches/run_id=s/search.json") == b"{}"
    assert store.put_if_absent("runs/run_id=r/manifest.json", b"{}")
    store.put("outcomes/run_id=r/status=failure/shard=00000.parquet", b"o")
    assert store.get("runs/run_id=r/manifest.json") == b"{}"
    store.put("runs/run_id=r/dispatched.json", b"{}")
    # under runs/ only the manifest and the dispatch record: no other key of a run (issue 22)
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="runs/run_id=r/notes.json", Body=b"x", IfNoneMatch="*"))
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="runs/manifest.json", Body=b"x", IfNoneMatch="*"))
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="points/run_id=r/shard=00000.parquet", Body=b"p"))
    assert denied(lambda: s3.get_object(Bucket=BUCKET, Key="points/run_id=r/shard=00000.parquet"))
    # it clears a stale failure (retry finishing a cleanup), never a success
    s3.delete_object(Bucket=BUCKET, Key="outcomes/run_id=r/status=failure/shard=00000.parquet")
    assert denied(lambda: s3.delete_object(Bucket=BUCKET, Key="outcomes/run_id=r/status=success/shard=00000.parquet"))


@set_initial_no_auth_action_count(4)
@mock_aws
def test_the_search_function_creates_round_manifests_and_reads_no_points(aws_env: None) -> None:
    s3 = as_role(SEARCH)
    store = S3Store(BUCKET, client=s3)
    # its job: a search's record read (a missing one told apart from a denied one), a round's manifest,
    # its dispatch record, the failure of a shard it could not hand over, the outcomes read
    assert store.get("searches/run_id=s/search.json") is None
    assert store.put_if_absent("runs/run_id=s-r000/manifest.json", b"{}")
    store.put("runs/run_id=s-r000/dispatched.json", b"{}")
    store.put("outcomes/run_id=s-r000/status=failure/shard=00000.parquet", b"o")
    assert store.get("outcomes/run_id=s-r000/status=failure/shard=00000.parquet") == b"o"
    assert list(store.list("points/run_id=s-r000/")) == []
    # not its job: points (written or read), successes, a search's record, any other key under runs/
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="points/run_id=s-r000/shard=00000.parquet", Body=b"p"))
    assert denied(lambda: s3.get_object(Bucket=BUCKET, Key="points/run_id=s-r000/shard=00000.parquet"))
    success = "outcomes/run_id=s-r000/status=success/shard=00000.parquet"
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key=success, Body=b"o", IfNoneMatch="*"))
    assert denied(
        lambda: s3.delete_object(Bucket=BUCKET, Key="outcomes/run_id=s-r000/status=failure/shard=00000.parquet")
    )
    assert denied(
        lambda: s3.put_object(Bucket=BUCKET, Key="searches/run_id=s/search.json", Body=b"{}", IfNoneMatch="*")
    )
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="runs/run_id=s-r000/notes.json", Body=b"x", IfNoneMatch="*"))
    assert denied(lambda: s3.put_object(Bucket=BUCKET, Key="tasksets/set.jsonl", Body=b"{}"))
