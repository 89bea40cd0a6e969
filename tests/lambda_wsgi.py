"""A WSGI app over the orchestrator's Lambda handler: each HTTP request becomes the API Gateway HTTP API
(payload 2.0) event API Gateway would send, so HTTP tools (schemathesis) can test the handler in-process."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote

from sweep_orchestrator import handler
from tests.cloud import LambdaContext, api_event

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = str(environ[name])
    return headers


def event_of(environ: dict[str, Any]) -> dict[str, Any]:
    """The HTTP API event for a WSGI request (the body always base64, as API Gateway sends binary)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    query = environ.get("QUERY_STRING", "")
    path = environ.get("PATH_INFO", "/")
    event = api_event(environ["REQUEST_METHOD"], "/runs/x" if path.startswith("/runs/") else path)
    event["rawPath"] = quote(path)
    event["requestContext"]["http"]["path"] = path
    event["rawQueryString"] = query
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    # API Gateway joins a repeated query parameter's values with commas
    event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()} or None
    event["headers"] = _headers(environ)
    event["body"] = base64.b64encode(body).decode()
    event["isBase64Encoded"] = True
    return event


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    answer = handler.handler(event_of(environ), LambdaContext())
    status = int(answer["statusCode"])
    body = answer.get("body") or ""
    data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
    headers = [(k, str(v)) for k, v in (answer.get("headers") or {}).items()]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [data]
