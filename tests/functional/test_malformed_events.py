"""Events that no caller of the orchestrator sends: each is refused or answered 400, never raised
and never a 500 (issue 22, item 9)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sweep_orchestrator import handler
from tests.cloud import LambdaContext, Stage, api_event
from tests.functional.test_trust import real_dispatch


@pytest.mark.parametrize("event", [None, [], "hello", 42, ["requestContext"]])
def test_an_event_that_is_not_an_object_is_refused(stage: Stage, event: Any) -> None:
    answer = handler.handler(event, LambdaContext())
    assert answer == {"refused": True, "reason": f"the event is {type(event).__name__}, not a JSON object"}
    assert stage.invokes.take() == []


@pytest.mark.parametrize(
    ("drop", "problem"),
    [("requestContext", "it has no `requestContext.http.method`"), ("rawPath", "it has no `rawPath`")],
)
def test_an_http_event_without_its_routing_fields_is_a_400(stage: Stage, drop: str, problem: str) -> None:
    event = {k: v for k, v in api_event("POST", "/runs", {"experiment": "synthetic"}).items() if k != drop}
    answer = handler.handler(event, LambdaContext())
    assert answer["statusCode"] == 400
    body = json.loads(answer["body"])
    assert (body["code"], body["field"]) == ("INVALID_REQUEST", "event")
    assert body["message"] == f"the event is not an HTTP API request: {problem}."
    assert stage.object_keys() == []


@pytest.mark.parametrize("route", [("POST", "/runs"), ("PUT", "/settings/max_points")])
def test_a_body_that_is_an_object_is_a_400_naming_the_body(stage: Stage, route: tuple[str, str]) -> None:
    event = api_event(*route)
    event["body"], event["isBase64Encoded"] = {"experiment": "synthetic", "value": 5}, False
    answer = handler.handler(event, LambdaContext())
    assert answer["statusCode"] == 400, answer
    assert json.loads(answer["body"])["field"] == "body"


def test_a_dispatch_task_with_an_empty_config_is_refused_not_raised(stage: Stage) -> None:
    task = real_dispatch(stage)
    answer = handler.handler({**task, "config": {}}, LambdaContext())
    assert answer["refused"] is True
    assert answer["reason"].startswith("not a dispatch task: MISSING_CONFIG")
    assert stage.invokes.take() == []


@pytest.mark.parametrize("field", ["experiment", "run_id", "config"])
def test_a_top_level_key_given_twice_is_named_as_the_field(stage: Stage, field: str) -> None:
    raw = '{"experiment": "synthetic", "run_id": "dup-1", "config": {"y": 1}, "grid": {"x": [1]}, '
    raw += f'"{field}": "again"}}'
    status, body = stage.call("POST", "/runs", raw_body=raw)
    assert (status, body["code"], body["field"]) == (400, "INVALID_REQUEST", field)
    assert body["message"] == f"`{field}`: key `{field}` is given twice; give each key once."
