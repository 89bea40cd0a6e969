"""The generated OpenAPI document (docs/openapi.json) run through schemathesis against the orchestrator
handler, in-process through a WSGI adapter: valid and schema-violating requests to every route, and not
one 5xx (issue 8). The long tier only: `make test-long`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case, GenerationMode

from tests import lambda_wsgi
from tests.badinput import Tally
from tests.cloud import Stage

DOCUMENT = Path(__file__).parents[2] / "docs" / "openapi.json"
TALLY = Path(__file__).parents[2] / "build" / "reliability"


def check_operation(operation: APIOperation, mode: GenerationMode, stage: Stage, tally: Tally) -> None:
    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: Case) -> None:
        response = case.call()
        stage.invokes.take()
        tally.add(f"{case.method} {case.path} ({mode.value})", str(response.status_code))
        # none is a 5xx, and every error is the JSON error body
        assert response.status_code < 500, (case.method, case.path, case.body, response.text[:500])
        if response.status_code >= 400:
            assert json.loads(response.text)["code"], response.text[:500]

    one()


@pytest.mark.long
def test_no_route_answers_5xx_to_what_schemathesis_generates(stage: Stage) -> None:
    # GIVEN the committed OpenAPI document, served by the handler through WSGI, with small caps
    stage.put_setting("max_points", "64")
    stage.put_setting("min_shards", "1")
    schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text()))
    schema.app = lambda_wsgi.app
    tally = Tally()
    # WHEN every operation gets positive and negative cases THEN none is answered 5xx
    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            check_operation(result.ok(), mode, stage, tally)
    tally.write(TALLY / "schemathesis.md", "schemathesis cases from docs/openapi.json through the handler")
    statuses = Counter(answer.split()[0] for counts in tally.answers.values() for answer in counts)
    assert tally.total >= 5 * 2 * 10
    assert not [status for status in statuses if status.startswith("5")]
