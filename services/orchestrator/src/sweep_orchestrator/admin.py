"""The admin route `PUT /settings/{name}`: set a stage setting or an experiment's stage default.

It is its own API Gateway route (AWS_IAM), so operators can be allowed it without every caller
who may submit runs: grant `execute-api:Invoke` on `<api>/*/PUT/settings/*`. The value is checked
as a submit would check it (a setting's range; an experiment default by its config model) and must
have the setting's JSON type, written to SSM — on the condition `expected_version` states, decided
by SSM and never by this instance's cache (`sweep_aws.ssm.write_parameter`) — and this instance's
settings cache is cleared; other warm instances read it within their cache TTL (`cache_ttl_s` in
the answer, 300 s by default)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field, JsonValue

from sweep_aws.ssm import SsmSettings
from sweep_contracts.base import Frozen
from sweep_contracts.decoding import loads_json
from sweep_contracts.defaults import setting_parameter
from sweep_contracts.errors import ConfigurationError, RequestError
from sweep_contracts.settings import parse_value
from sweep_orchestrator import deps
from sweep_orchestrator.error_body import error_responses
from sweep_orchestrator.request_body import body_bytes

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
MAX_BODY_BYTES = 16_384


class SettingWritten(Frozen):
    """200: the parameter now holds `stored` (readers parse it to `value`), at this SSM version."""

    name: str
    parameter: str
    value: JsonValue
    stored: str = Field(description="The exact text SSM holds now.")
    version: int
    replaced_version: int | None = Field(
        default=None,
        description="The version this write replaced (0: it created the parameter); absent for an "
        "unconditional write. Not `expected_version`: another write landed between the check and the put.",
    )
    cache_ttl_s: int = Field(
        description="Other warm orchestrator instances use the new value within this many seconds."
    )


def _body_of(body: bytes) -> tuple[Any, int | None]:
    """`{"value": …}` with an optional `expected_version` (0: create only; N: update from version N)."""
    payload = loads_json(body or b"{}")
    if not isinstance(payload, dict) or "value" not in payload or set(payload) - {"value", "expected_version"}:
        raise RequestError(
            "the body must be a JSON object with the key `value` and optionally `expected_version`.",
            field="value",
            value=payload if len(body) < 200 else None,
            hint='send e.g. `{"value": 800}`, or `{"value": 800, "expected_version": 3}` to replace version 3 only.',
        )
    expected = payload.get("expected_version")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int) or expected < 0):
        raise RequestError(
            f"`expected_version` must be a JSON integer of at least 0, not {json.dumps(expected)[:100]}.",
            field="expected_version",
            value=expected,
            limit={"min": 0},
            hint="send 0 to create the setting only if it does not exist, N to replace version N only, "
            "or leave it out to write unconditionally.",
        )
    return payload["value"], expected


@router.put(
    "/settings/<name>",
    summary="Set a stage setting or an experiment's stage default",
    description="`name` (one URL-encoded path segment) is a stage setting (`max_points`) or an experiment "
    'default (`experiments.<experiment>.<key>`); the body is `{"value": …}`, of the setting\'s JSON type, with an '
    "optional `expected_version`: 0 creates it only if it does not exist, N replaces version N only "
    "(both decided by SSM, not by a cache; 409 otherwise). Validated, written to SSM; this instance's "
    "cache is cleared, others see it within `cache_ttl_s`.",
    responses={
        200: {"description": "Written", "content": {"application/json": {"model": SettingWritten}}},
        **error_responses(400, 409, e400="Invalid name or value", e409="The setting is not at `expected_version`"),
    },
    tags=["settings"],
)
def put_setting(name: str) -> Response[str]:
    # the route matches the path as sent: `shard_size%23` is the name `shard_size#`, refused as such
    name = unquote(name)
    event = router.current_event
    body = body_bytes(event.body, bool(event.is_base64_encoded))
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(
            f"the body is {len(body):,} bytes.", field="body", limit=MAX_BODY_BYTES, hint="send one value."
        )
    current = deps.current()
    value, expected_version = _body_of(body)
    parameter, text = setting_parameter(name, value, current.runtime.registry)
    source = current.runtime.settings
    if not isinstance(source, SsmSettings):
        raise ConfigurationError(
            "this orchestrator reads no SSM settings, so it cannot write one.",
            hint="deploy the stage (its orchestrator reads /sweep/<stage>/) or edit the local settings file.",
        )
    written = source.write(parameter, text, expected_version, label=name)
    answer = SettingWritten(
        name=name,
        parameter=source.prefix + parameter,
        value=parse_value(text),
        stored=text,
        version=written.version,
        replaced_version=written.replaced,
        cache_ttl_s=current.settings_ttl_s,
    )
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=answer.model_dump_json(exclude={"replaced_version"} if written.replaced is None else None),
    )
