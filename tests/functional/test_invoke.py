"""The lean invoker on the wire: a signed Invoke API request, and the same verdicts as boto3's."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.credentials import Credentials

from sweep_aws.clients import lambda_client
from sweep_aws.invoke import BotoInvoker, InvokeResult, SignedHttpInvoker
from tests.sigv4 import signature_ok

CREDENTIALS = Credentials("AKIDEXAMPLE", "secret-example", "token-example")
REGION = "eu-west-1"


class LambdaEndpoint:
    """Answers Invoke with whatever `reply` says, after checking the signature."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.reply: tuple[int, dict[str, str], bytes] = (202, {}, b"")
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = f"http://{self.headers['Host']}{self.path}"
                endpoint.received.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "signed": signature_ok(
                            "POST",
                            url,
                            dict(self.headers),
                            body,
                            CREDENTIALS.get_frozen_credentials(),
                            "lambda",
                            REGION,
                        ),
                    }
                )
                status, headers, data = endpoint.reply
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(data))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def endpoint() -> Iterator[LambdaEndpoint]:
    fake = LambdaEndpoint()
    threading.Thread(target=fake.server.serve_forever, daemon=True).start()
    yield fake
    fake.server.shutdown()


def invokers(url: str) -> dict[str, Any]:
    keys = {
        "aws_access_key_id": CREDENTIALS.access_key,
        "aws_secret_access_key": CREDENTIALS.secret_key,
        "aws_session_token": CREDENTIALS.token,
    }
    client = lambda_client(4, endpoint_url=url, region_name=REGION, **keys)
    return {"lean": SignedHttpInvoker(url, REGION, CREDENTIALS.get_frozen_credentials), "boto3": BotoInvoker(client)}


def test_an_accepted_invoke_is_a_signed_event_invocation(endpoint: LambdaEndpoint) -> None:
    payload = json.dumps({"kind": "sweep.shard", "config": {"a": 1}}).encode()
    function = "arn:aws:lambda:eu-west-1:123456789012:function:sweep-dev-worker"
    for name, invoker in invokers(endpoint.url).items():
        assert invoker.invoke_async(function, payload) == InvokeResult(True), name
    lean, boto = endpoint.received
    for request in (lean, boto):
        assert request["signed"]
        assert request["body"] == payload
        assert request["headers"]["X-Amz-Invocation-Type"] == "Event"
    assert lean["path"] == boto["path"]  # the same (encoded) path as botocore's


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (
            429,
            {"x-amzn-ErrorType": "TooManyRequestsException:http://internal.amazon.com/coral/"},
            b'{"message":"Rate Exceeded.","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User"}',
            InvokeResult(False, 429, "TooManyRequestsException", "Rate Exceeded."),
        ),
        (
            404,
            {"x-amzn-ErrorType": "ResourceNotFoundException"},
            b'{"Message":"Function not found: w","Type":"User"}',
            InvokeResult(False, 404, "ResourceNotFoundException", "Function not found: w"),
        ),
        (
            500,
            {"x-amzn-ErrorType": "ServiceException"},
            b'{"Message":"internal","Type":"Service"}',
            InvokeResult(False, 500, "ServiceException", "internal"),
        ),
        (
            429,
            {"x-amzn-ErrorType": "TooManyRequestsException", "Retry-After": "2"},
            b'{"message":"Rate Exceeded.","Reason":"ConcurrentInvocationLimitExceeded","Type":"User"}',
            InvokeResult(False, 429, "TooManyRequestsException", "Rate Exceeded.", retry_after_s=2.0),
        ),
        (
            502,
            {"x-amzn-ErrorType": "KMSAccessDeniedException"},
            b'{"Message":"Lambda was unable to decrypt the environment variables","Type":"User"}',
            InvokeResult(
                False, 502, "KMSAccessDeniedException", "Lambda was unable to decrypt the environment variables"
            ),
        ),
        (
            409,
            {"x-amzn-ErrorType": "ResourceConflictException"},
            b'{"message":"The operation cannot be performed at this time.","Type":"User"}',
            InvokeResult(False, 409, "ResourceConflictException", "The operation cannot be performed at this time."),
        ),
    ],
)
def test_errors_read_the_same_as_through_boto3(
    endpoint: LambdaEndpoint, status: int, headers: dict[str, str], body: bytes, expected: InvokeResult
) -> None:
    endpoint.reply = (status, {"Content-Type": "application/json", **headers}, body)
    results = {name: invoker.invoke_async("w", b"{}") for name, invoker in invokers(endpoint.url).items()}
    assert results == {"lean": expected, "boto3": expected}
    assert expected.retryable is (expected.code not in ("ResourceNotFoundException", "KMSAccessDeniedException"))


def test_an_unreachable_endpoint_is_retryable() -> None:
    result = SignedHttpInvoker("http://127.0.0.1:9", REGION, CREDENTIALS.get_frozen_credentials).invoke_async(
        "w", b"{}"
    )
    assert (result.accepted, result.status, result.retryable) == (False, 0, True)
