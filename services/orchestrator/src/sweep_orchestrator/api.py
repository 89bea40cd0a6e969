"""The HTTP API: API Gateway HTTP API (payload 2.0), every route behind AWS_IAM (SigV4).

    POST /runs                   submit a sweep or a search      202, 400, 409, 413
    GET  /runs                   the newest runs                 200
    GET  /runs/{run_id}          a run's or a search's progress  200, 404
    POST /runs/{run_id}/retry    re-dispatch failed and missing  202, 404
                                 (a search: its current round's)

A search (a body with `search:`) shares the routes of runs: its id is a run id, its rounds are
runs, and the stage's API Gateway routes stay the six above. An id that names a run is the run.
    GET  /settings               effective stage settings        200
    PUT  /settings/{name}        set one (admin.py; own route)   200, 400

Errors are JSON with a stable `code`, the `field`, the `value`, the `limit` and a `hint`.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime, Field

from sweep_contracts import layout
from sweep_contracts.base import Frozen
from sweep_contracts.decoding import check_size, loads_json
from sweep_contracts.errors import ApiCode, RequestError, RunNotFoundError, SweepError
from sweep_contracts.manifest import RunPlan
from sweep_contracts.names import RUN_ID_PATTERN
from sweep_contracts.search import is_search
from sweep_contracts.validation import field_path
from sweep_contracts.version import code_version
from sweep_orchestrator import deps
from sweep_orchestrator.admin import router as admin_router
from sweep_orchestrator.error_body import error_responses
from sweep_orchestrator.request_body import body_bytes
from sweep_orchestrator.retry import RetryResult, retry_run
from sweep_orchestrator.runs import list_runs
from sweep_orchestrator.search.progress import SearchStatus, search_status
from sweep_orchestrator.search.retry import SearchRetryResult, retry_search
from sweep_orchestrator.search.rounds import load_search
from sweep_orchestrator.search.start import SearchSubmitResult, submit_search
from sweep_orchestrator.status import RunStatus
from sweep_orchestrator.submit import SubmitResult, submit_run

log = logging.getLogger("sweep.api")
app = APIGatewayHttpResolver(enable_validation=True)
app.include_router(admin_router)

ROUTES = "POST /runs, GET /runs, GET /runs/{run_id}, POST /runs/{run_id}/retry, GET /settings, PUT /settings/{name}"


class SubmitAnswer(SubmitResult):
    """202: the run exists and its shards are being dispatched (or it existed already)."""

    status_url: str


class SearchSubmitAnswer(SearchSubmitResult):
    """202: the search is recorded and the search function asked to start its next round (or it existed)."""

    status_url: str


class StatusAnswer(RunStatus):
    """A run's progress, with its plan and the code that planned it."""

    description: str | None = None
    plan: RunPlan
    code_version: dict[str, str]


class RunSummary(Frozen):
    run_id: str
    experiment: str
    description: str | None
    created_at: AwareDatetime
    points: int
    shards: int


class SettingsAnswer(Frozen):
    """Effective stage settings, each with its source (`ssm` or `default`) and SSM version."""

    stage: str
    parameter_prefix: str
    cache_ttl_s: int
    settings: dict[str, dict[str, Any]]
    experiments: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="Stage defaults per experiment and config key: value, source, version."
    )
    code_version: dict[str, str]


def _json(status: int, body: Any) -> Response[str]:
    text = body.model_dump_json() if isinstance(body, Frozen) else json.dumps(body, default=str)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=text)


def _search_or_none(run_id: str) -> Any:
    """The search `run_id` names, None if it names none."""
    store = deps.current().runtime.store
    return load_search(deps.current().runtime, run_id) if store.exists(layout.search_key(run_id)) else None


def _checked_run_id(run_id: str) -> str:
    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        raise RunNotFoundError(
            f"`{run_id}` is not a run id.",
            field="run_id",
            value=run_id,
            hint="run ids are 3-63 lowercase letters, digits and `-`.",
        )
    return run_id


@app.post(
    "/runs",
    status_code=202,
    summary="Submit a sweep",
    description="Validates the sweep, reads the stage settings, plans its shards, writes its manifest and "
    "dispatches one worker per shard. On any error nothing is written and nothing is dispatched. "
    "Resubmitting a run_id with the same content answers with the existing run. A body with a `search` "
    "block is an adaptive search: it is validated and every round planned as a run would be, its record "
    "is created (searches/run_id=<id>/search.json), and the search function is asked to start its first "
    "round; the answer (`kind: search`) names the search, its first round's run and the plan.",
    responses={
        202: {
            "description": "Accepted",
            "content": {"application/json": {"model": SubmitAnswer | SearchSubmitAnswer}},
        },
        **error_responses(400, 409, 413, 503),
    },
    tags=["runs"],
)
def post_run() -> Response[str]:
    event = app.current_event
    d = deps.current()
    body = body_bytes(event.body, bool(event.is_base64_encoded))
    check_size(len(body), d.runtime.settings().max_request_bytes)
    payload = loads_json(body)
    if is_search(payload):
        return _post_search(payload)
    result, _ = submit_run(payload, d.runtime, request_bytes=len(body))
    log.info(
        "run %s: %d points, %d shards (existing: %s)", result.run_id, result.points, result.shards, result.existing
    )
    status_url = f"https://{event.request_context.domain_name}/runs/{result.run_id}"
    return _json(202, SubmitAnswer(**result.model_dump(), status_url=status_url))


def _post_search(payload: Any) -> Response[str]:
    d = deps.current()
    result = submit_search(payload, d.runtime, d.search_steps)
    log.info(
        "search %s: %d trials in %d rounds (existing: %s, stepped: %s)",
        result.search_id,
        result.plan.trials,
        result.plan.rounds,
        result.existing,
        result.stepped,
    )
    status_url = f"https://{app.current_event.request_context.domain_name}/runs/{result.search_id}"
    return _json(202, SearchSubmitAnswer(**result.model_dump(), status_url=status_url))


@app.get(
    "/runs",
    summary="List runs, newest first",
    responses={
        200: {"description": "Runs", "content": {"application/json": {"model": list[RunSummary]}}},
        **error_responses(400),
    },
    tags=["runs"],
)
def get_runs(limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> Response[str]:
    manifests = list_runs(deps.current().runtime.store, limit)
    runs = [
        RunSummary(
            run_id=m.run_id,
            experiment=m.request.experiment,
            description=m.request.description,
            created_at=m.created_at,
            points=m.plan.points_total,
            shards=m.plan.shard_count,
        ).model_dump(mode="json")
        for m in manifests
    ]
    return _json(200, runs)


@app.get(
    "/runs/<run_id>",
    summary="A run's manifest summary and progress, or a search's",
    description="For a search's id (`kind: search`): its rounds and their progress, each trial with its "
    "objective once its round is done, the best so far and the budget left.",
    responses={
        200: {
            "description": "Progress",
            "content": {"application/json": {"model": StatusAnswer | SearchStatus}},
        },
        **error_responses(404, 503),
    },
    tags=["runs"],
)
def get_run(run_id: str) -> Response[str]:
    current = deps.current()
    try:
        manifest = current.manifests.load(_checked_run_id(run_id))
    except RunNotFoundError:
        search = _search_or_none(run_id)
        if search is None:
            raise
        return _json(200, search_status(current.runtime, search, outcomes=current.outcomes))
    status = current.outcomes.status(run_id, manifest)
    answer = StatusAnswer(
        **status.model_dump(),
        description=manifest.request.description,
        plan=manifest.plan,
        code_version=manifest.code_version,
    )
    return _json(200, answer)


@app.post(
    "/runs/<run_id>/retry",
    status_code=202,
    summary="Re-dispatch the failed and missing shards of a run, or of a search's current round",
    description="For a search's id: the failed shards of its current round (the last started) are sent "
    "again while that round still has shards without outcome (a complete round's trials are told to the "
    "optimiser as they ended, so it is not run again), and the search function is asked to step the search.",
    responses={
        202: {
            "description": "Accepted",
            "content": {"application/json": {"model": RetryResult | SearchRetryResult}},
        },
        **error_responses(404, 503),
    },
    tags=["runs"],
)
def post_retry(run_id: str, force: Annotated[bool, Query()] = False) -> Response[str]:
    """`force`: also the shards without outcome that may still wait in Lambda's queue."""
    d = deps.current()
    store = d.runtime.store
    if not store.exists(layout.manifest_key(_checked_run_id(run_id))) and store.exists(layout.search_key(run_id)):
        answer = retry_search(d.runtime, d.search_steps, run_id, all_overdue=force)
        log.info("search %s: retry of round %s: %s", run_id, answer.round, answer.reason)
        return _json(202, answer)
    result = retry_run(d.runtime, run_id, all_overdue=force)
    log.info(
        "run %s: retrying %d failed and %d overdue shards; %d still running",
        run_id,
        result.failed,
        result.missing,
        result.running,
    )
    return _json(202, result)


@app.get(
    "/settings",
    summary="Effective stage settings with provenance",
    responses={200: {"description": "Settings", "content": {"application/json": {"model": SettingsAnswer}}}},
    tags=["settings"],
)
def get_settings() -> Response[str]:
    d = deps.current()
    settings = d.runtime.settings()
    answer = SettingsAnswer(
        stage=d.stage,
        parameter_prefix=d.parameter_prefix,
        cache_ttl_s=d.settings_ttl_s,
        settings=settings.records(),
        experiments={
            name: {key: default.model_dump(exclude_none=True) for key, default in keys.items()}
            for name, keys in settings.experiment_defaults.experiments.items()
        },
        code_version=code_version(),
    )
    return _json(200, answer)


@app.exception_handler(SweepError)  # type: ignore[untyped-decorator]
def sweep_error(exc: SweepError) -> Response[str]:
    if exc.http_status >= 500:
        log.error("%s: %s", exc.code, exc)
    return _json(exc.http_status, exc.to_dict())


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def invalid_parameters(exc: RequestValidationError) -> Response[str]:
    """Query and path parameters Powertools validated: the same error format as everything else."""
    problems = [
        {
            "field": field_path([p for p in e.get("loc", ()) if p != "query"]),
            "message": str(e.get("msg", "")).lower(),
            "value": e.get("input"),
        }
        for e in exc.errors()
    ]
    first = problems[0]
    error = RequestError(
        f"`{first['field']}`: {first['message']}.",
        field=first["field"],
        value=first["value"],
        hint="see the API's parameters in docs/openapi.json.",
        problems=[],
    )
    return _json(400, {**error.to_dict(), "problems": problems})


@app.not_found
def not_found(exc: Exception) -> Response[str]:
    event = app.current_event
    return _json(
        404,
        {
            "code": ApiCode.NOT_FOUND,
            "message": f"there is no route {event.http_method} {event.path}.",
            "hint": f"the routes are {ROUTES}.",
        },
    )


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected(exc: Exception) -> Response[str]:
    log.exception("unexpected error")
    request_id = app.lambda_context.aws_request_id if app.lambda_context else None
    return _json(
        500,
        {
            "code": ApiCode.INTERNAL_ERROR,
            "message": "the orchestrator failed unexpectedly.",
            "hint": f"look for request {request_id} in the orchestrator's logs.",
        },
    )
