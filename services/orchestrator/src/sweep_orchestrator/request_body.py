"""The body of an HTTP API request as the caller sent it, for every route that reads one."""

from __future__ import annotations

import base64
import binascii

from sweep_contracts.errors import RequestError


def body_bytes(body: object, base64_encoded: bool) -> bytes:
    """The body as sent: API Gateway base64-encodes bodies it does not take for text."""
    if not isinstance(body, str | None):
        raise RequestError(
            f"the request body is {type(body).__name__}, not text.",
            field="body",
            hint="send the sweep as UTF-8 JSON text with Content-Type: application/json.",
        )
    try:
        return base64.b64decode(body or "", validate=True) if base64_encoded else (body or "").encode()
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise RequestError(
            f"the request body cannot be decoded: {exc}.",
            field="body",
            hint="send the sweep as UTF-8 JSON; a base64-encoded body (isBase64Encoded) must be valid base64.",
        ) from None
