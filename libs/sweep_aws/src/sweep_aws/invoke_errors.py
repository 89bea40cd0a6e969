"""Which failed Lambda `Invoke` calls are worth trying again.

Every error shape of the `Invoke` operation in botocore's `lambda` service model is classified
here, by name (tests/unit/test_invoke_errors.py fails when botocore models one that is not).
Codes the model does not name fall back to botocore's own retry rules (standard mode's throttling
and transient codes, and the HTTP statuses of `_retry.json`).

Where this departs from botocore, deliberately: botocore retries every 502, but most of Invoke's
502s describe the function's configuration (KMS key, VPC subnets, zip, runtime) and fail the same
way every time; and Invoke's 409s for a function that is still updating or a SnapStart snapshot
that is not ready yet pass with time, though botocore does not retry a 409.
"""

from __future__ import annotations

import math

# Pass with time: throttling, Lambda's own faults, resources still being set up.
TRANSIENT = frozenset(
    {
        "TooManyRequestsException",  # 429: concurrency or request rate; may carry Retry-After
        "ServiceException",  # 500
        "ResourceNotReadyException",  # 502: the function is still being (re)activated
        "EC2ThrottledException",  # 502
        "EC2UnexpectedException",  # 502: an EC2 fault, not a configuration
        "ENILimitReachedException",  # 502: network interfaces free up as environments stop
        "ENINotReadyException",  # 502: the VPC interface is still being created
        "ResourceConflictException",  # 409: the function is being updated
        "SnapStartNotReadyException",  # 409: the snapshot is still being created
        "SnapStartTimeoutException",  # 408
        "CodeArtifactUserPendingException",  # 409: the function's code is still being prepared
        "EFSMountConnectivityException",  # 408
        "EFSMountTimeoutException",  # 408
        "S3FilesMountConnectivityException",  # 408
        "S3FilesMountTimeoutException",  # 408
    }
)

# Fail the same way until someone changes the function, its configuration or the request.
PERMANENT = frozenset(
    {
        "CodeArtifactUserDeletedException",
        "CodeArtifactUserFailedException",
        "DurableExecutionAlreadyStartedException",
        "EC2AccessDeniedException",  # 502 below, but a missing permission of the function's role
        "EFSIOException",
        "EFSMountFailureException",
        "InvalidParameterValueException",
        "InvalidRequestContentException",
        "InvalidRuntimeException",
        "InvalidSecurityGroupIDException",
        "InvalidSubnetIDException",
        "InvalidZipFileException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "ModeNotSupportedException",
        "NoPublishedVersionException",
        "RecursiveInvocationException",
        "RequestTooLargeException",
        "ResourceNotFoundException",
        "RuntimeAliasDeletedException",
        "RuntimeVersionDeletedException",
        "S3FilesMountFailureException",
        "SerializedRequestEntityTooLargeException",
        "ServiceQuotaExceededException",
        "SnapStartException",
        "SnapStartRegenerationFailureException",
        "SubnetIPAddressLimitReachedException",  # until someone frees or adds addresses
        "UnsupportedMediaTypeException",
    }
)

# botocore's standard retry mode (`botocore.retries.standard`): throttling and transient codes.
BOTOCORE_RETRIED_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Of these, the ones that say "slow down" rather than "something broke" (`InvokePacer` slows down).
THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded"}
)
# …and the statuses it retries whatever the code (`_retry.json`'s default policies); 0: no answer.
BOTOCORE_RETRIED_STATUSES = frozenset({0, 429, 500, 502, 503, 504, 509})

RETRY_AFTER_CAP_S = 5.0  # a Retry-After is honoured up to this; a dispatcher has a deadline too


def is_retryable(code: str, status: int) -> bool:
    """Whether an Invoke that failed with `code` (the error shape's name) and HTTP `status` may
    succeed when tried again."""
    if code in TRANSIENT:
        return True
    if code in PERMANENT:
        return False
    return code in BOTOCORE_RETRIED_CODES or status in BOTOCORE_RETRIED_STATUSES


def retry_after_s(value: str | None) -> float | None:
    """The seconds a `Retry-After` header asks for, at most `RETRY_AFTER_CAP_S`; None when absent
    or not a number of seconds (the HTTP-date form is not used by Lambda)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return None
    return min(seconds, RETRY_AFTER_CAP_S)
