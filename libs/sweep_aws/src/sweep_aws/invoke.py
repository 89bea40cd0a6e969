"""Asynchronous Lambda invokes (InvocationType `Event`), the dispatcher's hot path.

`SignedHttpInvoker` sends the Invoke API request itself: botocore's SigV4 signer and a urllib3
connection pool, without the rest of boto3's request pipeline — about half the CPU per invoke
(0.7 ms against 1.5 ms here), which is what bounds a dispatcher's throughput. `BotoInvoker` does
the same through a boto3 client (moto's hooks see it). Both report in the same terms."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

import boto3
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError

from sweep_aws.invoke_errors import THROTTLING_CODES, is_retryable, retry_after_s
from sweep_contracts.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


@dataclass(frozen=True)
class InvokeResult:
    """Whether Lambda accepted the event; if not, why, whether trying again may help, and how long
    Lambda asked to wait first (`Retry-After`, bounded)."""

    accepted: bool
    status: int = 202
    code: str = ""
    message: str = ""
    retry_after_s: float | None = None

    @property
    def retryable(self) -> bool:
        return not self.accepted and is_retryable(self.code, self.status)

    @property
    def throttled(self) -> bool:
        """Lambda refused the call for its request rate or concurrency: it passes with time."""
        return not self.accepted and (self.status == 429 or self.code in THROTTLING_CODES)

    def describe(self) -> str:
        return f"{self.code or f'HTTP {self.status}'}: {self.message}".rstrip(": ")


class Invoker(Protocol):
    def invoke_async(self, function: str, payload: bytes) -> InvokeResult: ...


class BotoInvoker:
    """Invokes through a boto3 Lambda client (no botocore retries: the dispatcher retries)."""

    def __init__(self, client: LambdaClient) -> None:
        self.client = client

    def invoke_async(self, function: str, payload: bytes) -> InvokeResult:
        try:
            response = self.client.invoke(FunctionName=function, InvocationType="Event", Payload=payload)
        except ClientError as exc:
            error: Any = exc.response.get("Error", {})
            metadata: Any = exc.response.get("ResponseMetadata", {})
            status = int(metadata.get("HTTPStatusCode", 0))
            wait = retry_after_s(metadata.get("HTTPHeaders", {}).get("retry-after"))
            return InvokeResult(False, status, str(error.get("Code", "")), str(error.get("Message", "")), wait)
        except BotoCoreError as exc:  # connection reset, timeout
            return InvokeResult(False, 0, type(exc).__name__, str(exc))
        status = int(response.get("StatusCode", 0))
        return InvokeResult(status == 202, status, "" if status == 202 else "UnexpectedStatus")


class SignedHttpInvoker:
    """POST /2015-03-31/functions/{name}/invocations, signed with SigV4 for `lambda`."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials: Callable[[], ReadOnlyCredentials],
        pool_size: int = 256,
        connect_timeout_s: float = 3,
        read_timeout_s: float = 10,
    ) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self._credentials = credentials
        self._pool = urllib3.PoolManager(
            maxsize=pool_size, retries=False, timeout=urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s)
        )

    @classmethod
    def like(cls, client: LambdaClient, pool_size: int = 256) -> SignedHttpInvoker:
        """Same endpoint, region and credential chain as `client`."""
        session = boto3.Session()
        resolved = session.get_credentials()
        if resolved is None:
            raise ConfigurationError(
                "no AWS credentials were found to sign Lambda invokes.",
                field="credentials",
                hint="on Lambda the runtime provides them through the function's role: check that the "
                "function has an execution role; elsewhere, set AWS credentials (e.g. `AWS_PROFILE`).",
            )
        return cls(client.meta.endpoint_url, client.meta.region_name, resolved.get_frozen_credentials, pool_size)

    def invoke_async(self, function: str, payload: bytes) -> InvokeResult:
        request = AWSRequest(
            method="POST",
            url=f"{self.endpoint_url}/2015-03-31/functions/{quote(function, safe='')}/invocations",
            data=payload,
            headers={"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"},
        )
        SigV4Auth(self._credentials(), "lambda", self.region).add_auth(request)
        prepared = request.prepare()
        try:
            response = self._pool.request("POST", prepared.url, body=payload, headers=dict(prepared.headers))
        except urllib3.exceptions.HTTPError as exc:
            return InvokeResult(False, 0, type(exc).__name__, str(exc))
        if response.status == 202:
            return InvokeResult(True)
        code = (response.headers.get("x-amzn-ErrorType") or "").split(":", 1)[0]
        try:
            body = json.loads(response.data or b"{}")
        except json.JSONDecodeError:
            body = {}
        message = str(body.get("message") or body.get("Message") or response.data[:200].decode(errors="replace"))
        wait = retry_after_s(response.headers.get("Retry-After"))
        return InvokeResult(False, response.status, code or str(body.get("Type", "")), message, wait)
