"""The admin route `PUT /settings/{name}`: set a stage setting or an experiment's stage default.

It is its own API Gateway route (AWS_IAM), so operators can be allowed it without every caller
who may submit runs: grant `execute-api:Invoke` on `<api>/*/PUT/settings/*`. The value is checked
as a submit would check it (a setting's range; an experiment default by its config model), written
to SSM, and this instance's settings cache is cleared; other warm instances read it within their
cache TTL (`cache_ttl_s` in the answer, 300 s by default)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import Field, JsonValue

from sweep_aws.ssm import SsmSettings
from sweep_contracts.base import Frozen
from sweep_contracts.decoding import loads_json
from sweep_contracts.defaults import setting_parameter
from sweep_contracts.errors import ConfigurationError, RequestError
from sweep_orchestrator import deps
from sweep_orchestrator.error_body import error_responses
from sweep_orchestrator.request_body import body_bytes

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]
MAX_BODY_BYTES = 16_384


class SettingWritten(Frozen):
    """200: the parameter now holds the value, at this SSM version."""

    name: str
    parameter: str
    value: JsonValue
    version: int
    cache_ttl_s: int = Field(
        description="Other warm orchestrator instances use the new value within this many seconds."
    )


def _value_of(body: bytes) -> Any:
    payload = loads_json(body or b"{}")
    if not isinstance(payload, dict) or set(payload) != {"value"}:
        raise RequestError(
            "the body must be a JSON object with exactly one key, `value`.",
            field="value",
            value=payload if len(body) < 200 else None,
            hint='send e.g. `{"value": 800}`.',
        )
    return payload["value"]


@router.put(
    "/settings/<name>",
    summary="Set a stage setting or an experiment's stage default",
    description="`name` is a stage setting (`max_points`) or an experiment default "
    '(`experiments.<experiment>.<key>`); the body is `{"value": …}`. Validated, written to SSM; this '
    "instance's cache is cleared, others see it within `cache_ttl_s`.",
    responses={
        200: {"description": "Written", "content": {"application/json": {"model": SettingWritten}}},
        **error_responses(400, e400="Invalid name or value"),
    },
    tags=["settings"],
)
def put_setting(name: str) -> Response[str]:
    event = router.current_event
    body = body_bytes(event.body, bool(event.is_base64_encoded))
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(
            f"the body is {len(body):,} bytes.", field="body", limit=MAX_BODY_BYTES, hint="send one value."
        )
    current = deps.current()
    value = _value_of(body)
    parameter, text = setting_parameter(name, value, current.runtime.registry)
    source = current.runtime.settings
    if not isinstance(source, SsmSettings):
        raise ConfigurationError(
            "this orchestrator reads no SSM settings, so it cannot write one.",
            hint="deploy the stage (its orchestrator reads /sweep/<stage>/) or edit the local settings file.",
        )
    version = source.write(parameter, text)
    answer = SettingWritten(
        name=name,
        parameter=source.prefix + parameter,
        value=value,
        version=version,
        cache_ttl_s=current.settings_ttl_s,
    )
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=answer.model_dump_json())
