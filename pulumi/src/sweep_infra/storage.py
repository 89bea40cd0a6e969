"""A bucket with every protection on: encryption, no public access, owner-enforced objects,
TLS-only access, and lifecycle rules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from sweep_infra import policies


@dataclass(frozen=True)
class Expiry:
    """Objects under `prefix` expire after `days`."""

    prefix: str
    days: int


@dataclass(frozen=True)
class SecureBucketArgs:
    tags: dict[str, str]
    expiries: list[Expiry] = field(default_factory=list)
    force_destroy: bool = False
    kms_key_arn: pulumi.Input[str] | None = None
    """SSE-KMS with this key and an S3 Bucket Key; None: SSE-S3."""


def _default_encryption(
    kms_key_arn: pulumi.Input[str] | None,
) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
    if kms_key_arn is None:
        # SSE-S3: no key to manage or pay for. No S3 Bucket Key: it only cuts KMS requests under SSE-KMS.
        return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"
            ),
        )
    # the Bucket Key: S3 asks KMS for a bucket-level key now and then instead of a data key per
    # object, which keeps a run's KMS requests (and their cost, docs/deploy.md) few
    return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
        ),
        bucket_key_enabled=True,
    )


class SecureBucket(pulumi.ComponentResource):
    """An S3 bucket that is encrypted (SSE-S3, or SSE-KMS with a given key), private, owner-enforced
    and reachable only over TLS; incomplete multipart uploads are cleaned up after a day."""

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sweep:storage:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(name, force_destroy=args.force_destroy, tags=args.tags, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[_default_encryption(args.kms_key_arn)],
            opts=child,
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(lambda arn: json.dumps(policies.tls_only_bucket_policy(arn))),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-uploads",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=1
                ),
            ),
            *(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id=f"expire-{expiry.prefix.strip('/')}",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=expiry.prefix),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expiry.days),
                )
                for expiry in args.expiries
            ),
        ]
        aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=self.bucket.id, rules=rules, opts=child)
        self.register_outputs({"bucket": self.bucket.bucket, "arn": self.bucket.arn})
