"""IAM and bucket policy documents, as pure functions of ARNs (tests check them statement by statement).

Each role gets only the actions it uses, on only the resources it uses. There is no wildcard action
in any Allow and no `*` resource: every statement names a log group, a key prefix, a parameter
path or a function. The one wildcard is the bucket policy's Deny of every S3 action over plain
HTTP, which narrows access rather than granting it.

S3 note: without `s3:ListBucket`, S3 answers a read of a *missing* key with 403 instead of 404.
The roles may list only their own prefixes (a condition on `s3:prefix`), and the store checks
existence with a one-key listing, so "missing" is still told apart from "denied".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sweep_contracts.binding import BINDINGS_PATH
from sweep_contracts.settings import EXPERIMENTS_PATH, SystemSettings

Statement = dict[str, Any]
Document = dict[str, Any]
VERSION = "2012-10-17"


def lambda_trust() -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }


def _logs(log_group_arn: str) -> Statement:
    return {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"{log_group_arn}:*"],
    }


def _invoke(sid: str, *function_arns: str) -> Statement:
    # the bare ARN and any qualifier (version, alias)
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": [r for arn in function_arns for r in (arn, f"{arn}:*")],
    }


def _list_prefixes(sid: str, bucket_arn: str, *prefixes: str) -> Statement:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": [bucket_arn],
        "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes]}},
    }


@dataclass(frozen=True)
class ResultsKey:
    """The KMS key of a stage whose results bucket is SSE-KMS (`sweep:encryption: kms`)."""

    arn: str
    region: str


def _use_results_key(key: ResultsKey | None) -> list[Statement]:
    # S3 asks KMS for a data key on a PUT and to decrypt one on a GET, on the caller's behalf
    # (with an S3 Bucket Key, once per bucket key, not per object); no role calls KMS itself, so
    # the grant holds only through S3 in the stage's region. kms:Encrypt is never needed by S3.
    if key is None:
        return []
    return [
        {
            "Sid": "UseResultsKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [key.arn],
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{key.region}.amazonaws.com"}},
        }
    ]


SUCCESS_OUTCOMES = "outcomes/run_id=*/status=success/*"
FAILURE_OUTCOMES = "outcomes/run_id=*/status=failure/*"
STARTED_MARKERS = "started/run_id=*/shard=*/*.json"
MANIFESTS = "runs/run_id=*/manifest.json"
SEARCH_RECORDS = "searches/run_id=*/search.json"
DISPATCH_RECORDS = "runs/run_id=*/dispatched.json"
POINTS_FILES = "points/run_id=*/shard=*.parquet"
_CREATE_ONLY = {"Null": {"s3:if-none-match": "false"}}
"""A PUT only with `If-None-Match` (S3 User Guide, "Enforce conditional writes"): over an existing
key S3 answers 412, so the grant creates and never replaces. `*` is the only value S3 accepts."""
TASK_SETS = "tasksets/*"
"""Where an LLM experiment's task sets by reference live (`tasks: s3://<bucket>/tasksets/...`)."""


def _read_task_sets(bucket_arn: str) -> Statement:
    # read-only: a task set is immutable by contract (its hash is in the config), so no role writes it
    return {
        "Sid": "ReadTaskSets",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [f"{bucket_arn}/{TASK_SETS}"],
    }


def _read_planning_settings(parameter_path_arn: str) -> list[Statement]:
    """What planning a run reads from SSM (the orchestrator's submit, the search function's rounds):
    the stage settings, experiment defaults and secret bindings, never `secrets/`."""
    return [
        {
            # by name: GetParametersByPath is authorized against the path asked for, so a path
            # read of the stage would reach `secrets/` too, and AWS documents no condition key
            # that keeps it to one level (`ssm:Recursive` is no longer among Parameter Store's
            # documented keys); GetParameters is authorized per parameter
            "Sid": "ReadStageSettings",
            "Effect": "Allow",
            "Action": ["ssm:GetParameters"],
            "Resource": [f"{parameter_path_arn}/{name}" for name in SystemSettings.names()],
        },
        {
            # experiment defaults are read recursively, but only under their own path: a sibling
            # of `secrets/`, which this never reaches
            "Sid": "ReadExperimentDefaults",
            "Effect": "Allow",
            "Action": ["ssm:GetParametersByPath"],
            "Resource": [
                f"{parameter_path_arn}/{EXPERIMENTS_PATH.rstrip('/')}",
                f"{parameter_path_arn}/{EXPERIMENTS_PATH}*",
            ],
        },
        {
            # where each secret may go, checked when a run is planned; written only by `pulumi up`
            "Sid": "ReadSecretBindings",
            "Effect": "Allow",
            "Action": ["ssm:GetParametersByPath"],
            "Resource": [
                f"{parameter_path_arn}/{BINDINGS_PATH.rstrip('/')}",
                f"{parameter_path_arn}/{BINDINGS_PATH}*",
            ],
        },
    ]


def _write_dispatched_runs(bucket_arn: str) -> list[Statement]:
    """What starting a run writes (the orchestrator's submit and retry, the search function's rounds):
    its manifest, create-only; its dispatch record; failure outcomes of the shards not handed over."""
    return [
        {
            # created with If-None-Match: a PUT without it is not allowed, so no dispatcher (nor
            # whoever holds its credentials) can replace a run's manifest
            "Sid": "CreateManifests",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket_arn}/{MANIFESTS}"],
            "Condition": _CREATE_ONLY,
        },
        {
            # the one plain put under runs/: each dispatch (submit, retry, a round) rewrites it
            "Sid": "WriteDispatchRecords",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket_arn}/{DISPATCH_RECORDS}"],
        },
        {
            # only failures (DISPATCH_FAILED): a success is the worker's to create, and nobody's to replace
            "Sid": "WriteFailureOutcomes",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [f"{bucket_arn}/{FAILURE_OUTCOMES}"],
        },
    ]


def orchestrator_policy(
    *,
    log_group_arn: str,
    bucket_arn: str,
    parameter_path_arn: str,
    worker_arn: str,
    orchestrator_arn: str,
    reconciler_arn: str,
    search_arn: str,
    results_key: ResultsKey | None = None,
) -> Document:
    """Read its stage settings, create manifests, write dispatch records and failure outcomes, read runs and outcomes,
    invoke the worker (and itself, for the fan-out tree), report a failed child dispatcher to the
    reconciler (its on-failure destination), and set stage settings and experiment defaults for
    `PUT /settings/{name}` (never the secrets under `secrets/`); record a search (create-only) and
    ask the search function to step it."""
    return {
        "Version": VERSION,
        "Statement": [
            _logs(log_group_arn),
            *_read_planning_settings(parameter_path_arn),
            {
                "Sid": "WriteStageSettings",
                "Effect": "Allow",
                "Action": ["ssm:PutParameter"],
                "Resource": [
                    *(f"{parameter_path_arn}/{name}" for name in SystemSettings.names()),
                    f"{parameter_path_arn}/{EXPERIMENTS_PATH}*",
                ],
            },
            _invoke("DispatchShards", worker_arn, orchestrator_arn),
            _invoke("ReportDispatchFailures", reconciler_arn),
            # a search submitted or retried: a `search.step` event to the search function
            _invoke("StepSearches", search_arn),
            _read_task_sets(bucket_arn),  # submit checks that a referenced task set is there and matches
            # status adds up a run's points from the names of its points keys: it lists them and
            # never reads one (docs/storage.md); `searches/` so that an id with no search record reads
            # as missing (S3 answers 403 for a missing key the role may not list), not as denied
            _list_prefixes("ListSearchesRunsOutcomesAndPoints", bucket_arn, "searches", "runs", "outcomes", "points"),
            {
                "Sid": "ReadRunsAndOutcomes",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/runs/*", f"{bucket_arn}/outcomes/*"],
            },
            {
                # status and retry of a search read its record (the rounds are the search function's)
                "Sid": "ReadSearches",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/{SEARCH_RECORDS}"],
            },
            {
                # submit records a search with If-None-Match, as it creates manifests: never replaced
                "Sid": "CreateSearchRecords",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [f"{bucket_arn}/{SEARCH_RECORDS}"],
                "Condition": _CREATE_ONLY,
            },
            *_write_dispatched_runs(bucket_arn),
            {
                # `sweep retry` finishes the cleanup a success's writer could not: the stale failure
                "Sid": "ClearStaleFailures",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject"],
                "Resource": [f"{bucket_arn}/{FAILURE_OUTCOMES}"],
            },
            *_use_results_key(results_key),
        ],
    }


def search_policy(
    *,
    log_group_arn: str,
    bucket_arn: str,
    parameter_path_arn: str,
    worker_arn: str,
    results_key: ResultsKey | None = None,
) -> Document:
    """Step a search: read its record and its rounds (manifests, outcomes with their tallies, the
    names of points keys), plan the next round as submit does (stage settings, experiment defaults,
    secret bindings, task sets), create its manifest, invoke the worker for its shards, and record
    the shards it could not hand over. No fan-out tree (it may invoke only the worker, never the
    orchestrator, so it has no path to the API's function), no settings writes, no secrets."""
    return {
        "Version": VERSION,
        "Statement": [
            _logs(log_group_arn),
            *_read_planning_settings(parameter_path_arn),  # a round is planned as a submitted run is
            _invoke("DispatchRoundShards", worker_arn),
            _read_task_sets(bucket_arn),
            _list_prefixes("ListSearchesRunsOutcomesAndPoints", bucket_arn, "searches", "runs", "outcomes", "points"),
            {
                "Sid": "ReadSearchesRunsAndOutcomes",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/{SEARCH_RECORDS}", f"{bucket_arn}/runs/*", f"{bucket_arn}/outcomes/*"],
            },
            *_write_dispatched_runs(bucket_arn),  # a round's, created only if absent: racing steps start it once
            *_use_results_key(results_key),
        ],
    }


def reconciler_policy(*, log_group_arn: str, bucket_arn: str, results_key: ResultsKey | None = None) -> Document:
    """Check a destination record against its run (manifest, outcomes) and write the failure
    outcome. No invoke and no SSM: the reconciler cannot dispatch, so neither can what invokes it."""
    return {
        "Version": VERSION,
        "Statement": [
            _logs(log_group_arn),
            _list_prefixes("ListRunsAndOutcomes", bucket_arn, "runs", "outcomes"),
            {
                "Sid": "ReadRunsAndOutcomes",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/runs/*", f"{bucket_arn}/outcomes/*"],
            },
            {
                "Sid": "WriteFailureOutcomes",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [f"{bucket_arn}/{FAILURE_OUTCOMES}"],
            },
            *_use_results_key(results_key),
        ],
    }


def worker_policy(
    *,
    log_group_arn: str,
    bucket_arn: str,
    secrets_path_arn: str,
    reconciler_arn: str,
    results_key: ResultsKey | None = None,
) -> Document:
    """Create points and success outcomes, write and clear failures, check for an existing outcome, mark the shards it
    started, read its experiment secrets, and report a crash to the reconciler (the on-failure destination; never the
    orchestrator, which dispatches)."""
    return {
        "Version": VERSION,
        "Statement": [
            _logs(log_group_arn),
            {
                # points keys are unique per execution, so a points file is created once and never
                # replaced: the rows a standing success vouches for cannot be rewritten. Only keys of
                # the points shape: nothing else under points/ for the Glue table to read.
                "Sid": "CreatePoints",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [f"{bucket_arn}/{POINTS_FILES}"],
                "Condition": _CREATE_ONLY,
            },
            {
                # a worker deletes only its own orphan file or one no standing outcome names; IAM
                # cannot tell those from a vouched file, nor this task's run from another's
                # (docs/reliability.md, "What IAM cannot enforce")
                "Sid": "ClearUnvouchedPoints",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject"],
                "Resource": [f"{bucket_arn}/{POINTS_FILES}"],
            },
            {
                # a success is created, never replaced nor deleted: a PUT without `If-None-Match`
                # is not allowed, and with it S3 refuses to overwrite (412), so even a buggy worker
                # cannot replace a standing success. The documented shape of this condition is
                # `Null s3:if-none-match false` (S3 User Guide, "Enforce conditional writes");
                # `*` is the only value S3 accepts in that header on PutObject.
                "Sid": "CreateSuccessOutcomes",
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [f"{bucket_arn}/{SUCCESS_OUTCOMES}"],
                "Condition": _CREATE_ONLY,
            },
            {
                "Sid": "WriteAndClearFailureOutcomes",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"{bucket_arn}/{FAILURE_OUTCOMES}"],
            },
            {
                "Sid": "ReadOutcomes",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{bucket_arn}/outcomes/*"],
            },
            {
                # a marker per execution (sweep_worker.started): listed to learn that an earlier
                # execution died, written at start, removed once the outcome is recorded; never read
                "Sid": "MarkStartedShards",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"{bucket_arn}/{STARTED_MARKERS}"],
            },
            _list_prefixes("ListOutcomesPointsAndMarkers", bucket_arn, "outcomes", "points", "started"),
            _read_task_sets(bucket_arn),
            {
                "Sid": "ReadExperimentSecrets",
                "Effect": "Allow",
                "Action": ["ssm:GetParameters"],
                "Resource": [f"{secrets_path_arn}/*"],
            },
            {
                # each secret's binding, read with the secret in one call: the worker checks every call
                # against it (a task can be forged)
                "Sid": "ReadSecretBindings",
                "Effect": "Allow",
                "Action": ["ssm:GetParameters"],
                # a sibling of `secrets/` under the stage's path
                "Resource": [f"{secrets_path_arn.rsplit('/', 1)[0]}/{BINDINGS_PATH}*"],
            },
            _invoke("ReportFailuresToReconciler", reconciler_arn),
            *_use_results_key(results_key),
        ],
    }


def tls_only_bucket_policy(bucket_arn: str) -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyPlainHttp",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
