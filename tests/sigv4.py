"""Checking SigV4 signatures the way AWS does: recompute over the headers the request signed."""

from __future__ import annotations

from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def signature_ok(
    method: str, url: str, headers: dict[str, str], body: bytes, credentials: Any, service: str, region: str
) -> bool:
    authorization = headers.get("Authorization") or headers.get("authorization") or ""
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return False
    fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(","))
    if not fields.get("Credential", "").endswith(f"/{region}/{service}/aws4_request"):
        return False
    signed = fields["SignedHeaders"].split(";")
    lowered = {k.lower(): v for k, v in headers.items()}
    request = AWSRequest(method=method, url=url, data=body, headers={h: lowered[h] for h in signed})
    request.context["timestamp"] = lowered["x-amz-date"]
    auth = SigV4Auth(credentials, service, region)
    canonical = auth.canonical_request(request)
    return bool(auth.signature(auth.string_to_sign(request, canonical), request) == fields["Signature"])
