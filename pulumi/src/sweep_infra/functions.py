"""The Lambda functions: artifacts in S3 (content-addressed), one role per function with an inline
least-privilege policy, and a log group with retention created before the function."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from sweep_contracts import environment
from sweep_infra import experiment_packages, packaging, policies
from sweep_infra.packaging import Artifact

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"


def artifacts(artifacts_dir: str | None, experiments: Sequence[str] = ()) -> dict[str, Artifact]:
    """Prebuilt artifacts (`make package`; config `sweep:artifactsDir`, else $SWEEP_ARTIFACTS_DIR as
    `make deploy` sets it), or build them now with the stage's experiment packages."""
    root = packaging.repo_root()
    artifacts_dir = artifacts_dir or os.environ.get(environment.ARTIFACTS_DIR) or None
    if artifacts_dir is None:
        out = root / "build" / "lambda"
        return {name: packaging.build(name, root, out, experiments=experiments) for name in packaging.FUNCTIONS}
    directory = Path(artifacts_dir) if Path(artifacts_dir).is_absolute() else root / artifacts_dir
    experiment_packages.check_prebuilt(directory, experiments)
    found = {}
    for name in packaging.FUNCTIONS:
        path = directory / f"{name}.zip"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist: build it with `make package`, or unset sweep:artifactsDir to build on deploy"
            )
        data = path.read_bytes()
        found[name] = Artifact(name, path, hashlib.sha256(data).hexdigest(), len(data), 0)
    return found


@dataclass(frozen=True)
class FunctionArgs:
    name: str
    handler: str
    artifact: Artifact
    artifact_bucket: pulumi.Input[str]
    memory_mb: int
    timeout_s: int
    environment: Mapping[str, pulumi.Input[str]]
    policy: Callable[[str], pulumi.Input[str]]
    """The role's policy document (JSON), given the log group's ARN."""
    log_retention_days: int
    tags: dict[str, str]
    reserved_concurrency: int | None = None


class SweepFunction(pulumi.ComponentResource):
    def __init__(self, name: str, args: FunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sweep:functions:SweepFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.name}",
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(policies.lambda_trust()),
            description=f"runs {args.name}",
            tags=args.tags,
            opts=child,
        )
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy", role=self.role.id, policy=self.log_group.arn.apply(args.policy), opts=child
        )
        code = aws.s3.BucketObjectv2(
            f"{name}-code",
            bucket=args.artifact_bucket,
            key=args.artifact.key,
            source=pulumi.FileAsset(str(args.artifact.path)),
            content_type="application/zip",
            tags=args.tags,
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=args.name,
            role=self.role.arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=args.handler,
            s3_bucket=code.bucket,
            s3_key=code.key,
            source_code_hash=base64.b64encode(bytes.fromhex(args.artifact.sha256)).decode(),
            memory_size=args.memory_mb,
            timeout=args.timeout_s,
            reserved_concurrent_executions=args.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment)),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=self.log_group.name),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, self.policy]),
        )
        self.register_outputs({"name": self.function.name, "arn": self.function.arn})
