"""A stage in moto, in-process: S3 and SSM mocked, Lambda invokes captured (moto cannot run Lambda
code without Docker, so the captured events are fed to the handlers by the test), and faults
injected with botocore `before-send` hooks."""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from sweep_aws.clients import lambda_client, s3_client, ssm_client
from sweep_aws.invoke import BotoInvoker
from sweep_aws.s3 import S3Store
from sweep_aws.ssm import SsmSettings
from sweep_contracts.experiments import Registry
from sweep_orchestrator import deps, handler
from sweep_orchestrator.deps import OrchestratorDeps
from sweep_orchestrator.dispatch_task import DISPATCH_KIND
from sweep_orchestrator.lambda_dispatch import LambdaDispatcher, NoPacing
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.steps import LambdaSearchSteps
from sweep_worker.runner import WorkerDeps, process_event

EVENTS = Path(__file__).parent / "events"
REGION = "us-east-1"
BUCKET = "sweep-results-test"
PREFIX = "/sweep/test/"
WORKER = "sweep-test-worker"
ORCHESTRATOR = "sweep-test-orchestrator"
SEARCH = "sweep-test-search"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> AWSResponse:
    return AWSResponse("https://mocked", status, headers or {}, _Raw(body))  # type: ignore[arg-type]


def lambda_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> AWSResponse:
    body = json.dumps({"message": message, "Type": "User"}).encode()
    return response(status, body, {"x-amzn-ErrorType": code, **(headers or {})})


def s3_error(status: int, code: str) -> AWSResponse:
    body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
    return response(status, body, {"content-type": "application/xml"})


def json_error(status: int, code: str, message: str) -> AWSResponse:
    return response(status, json.dumps({"__type": code, "message": message}).encode())


@dataclass
class LambdaContext:
    """What the handlers read from Lambda's context object."""

    function_name: str = ORCHESTRATOR
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:{ORCHESTRATOR}"
    aws_request_id: str = "req-1"
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Invokes:
    """Every async invoke the dispatcher made, by function; `fault` may answer instead of Lambda."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    fault: Callable[[str, dict[str, Any]], AWSResponse | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def before_send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        function = request.url.split("/functions/")[1].split("/")[0]
        payload = json.loads(request.body or b"{}")
        with self.lock:
            self.attempts[function] += 1
        answer = self.fault(function, payload) if self.fault else None
        if answer is not None:
            return answer
        with self.lock:
            self.calls.append((function, payload))
        return response(202)

    def take(self, function: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            taken = [p for f, p in self.calls if function in (None, f)]
            self.calls = [(f, p) for f, p in self.calls if function not in (None, f)]
        # invokes are sent from a thread pool: order them by shard, not by which thread ran first
        return sorted(taken, key=lambda p: (p.get("shard_id", -1), p.get("attempt", 0)))


_ONE_REQUEST_AT_A_TIME = threading.Lock()


@dataclass
class Stage:
    """A deployed stage, in moto."""

    s3: Any
    ssm: Any
    lam: Any
    store: S3Store
    invokes: Invokes
    settings: SsmSettings
    dispatcher: LambdaDispatcher
    sleeps: list[float]
    worker: WorkerDeps

    def call(self, method: str, path: str, body: Any = None, raw_body: str | None = None) -> tuple[int, Any]:
        """Send an HTTP API request through the orchestrator handler; (status, decoded JSON). One at a
        time, as a Lambda environment serves them: requests sent at once go to as many environments,
        and the API's resolver keeps the request it serves in the process (`app.current_event`), so
        two threads in one process read each other's bodies (seen in CI: one run posted twice, one
        never, at 3 test workers on 2 cores)."""
        with _ONE_REQUEST_AT_A_TIME:
            answer = handler.handler(api_event(method, path, body, raw_body), LambdaContext())
        return answer["statusCode"], json.loads(answer["body"]) if answer.get("body") else None

    def run_all(self, deliver: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
        """Feed every captured invoke to its handler until none are left (fan-out included)."""
        results = []
        while self.invokes.calls:
            for function, payload in list(self._drain()):
                if function == ORCHESTRATOR:
                    assert payload["kind"] == DISPATCH_KIND
                    handler.handler(payload, LambdaContext())
                elif function == SEARCH:
                    self.step_search(payload)
                else:
                    results.append((deliver or self.deliver)(payload))
        return results

    def _drain(self) -> list[tuple[str, dict[str, Any]]]:
        with self.invokes.lock:
            taken, self.invokes.calls = self.invokes.calls, []
        return taken

    def step_search(self, event: dict[str, Any]) -> str:
        """The search function's entry (it ships Optuna, the orchestrator does not) takes the
        `SearchStepEvent`: one `rounds.advance` of the search; answers the step's kind."""
        from sweep_orchestrator.search import handler as search_handler

        context = LambdaContext(
            function_name=SEARCH, invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{SEARCH}"
        )
        answer = search_handler.handler(event, context)
        (step,) = answer["searches"].values()
        kind: str = step.get("step") or step["error"]["code"]
        return kind

    def deliver(self, task: dict[str, Any]) -> dict[str, Any]:
        return process_event(task, self.worker, remaining_ms=lambda: 900_000.0, request_id="worker-req")

    def put_setting(self, name: str, value: str) -> None:
        self.ssm.put_parameter(Name=PREFIX + name, Value=value, Type="String", Overwrite=True)
        self.settings.clear()

    def object_keys(self, prefix: str = "") -> list[str]:
        return list(self.store.list(prefix))


def api_event(method: str, path: str, body: Any = None, raw_body: str | None = None) -> dict[str, Any]:
    """A real HTTP API (payload 2.0) event, from `sam local generate-event`, for this request."""
    name = {"POST /runs": "post-runs", "GET /runs": "get-runs", "GET /settings": "get-settings"}.get(
        f"{method} {path}", "post-retry" if path.endswith("/retry") else "get-run"
    )
    event: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / f"http-api-{name}.json").read_text()))
    path_only, _, query = path.partition("?")
    event["rawPath"] = path_only
    event["requestContext"]["http"]["path"] = path_only
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = query
    # a query item may have no `=` (schemathesis sends `?0`): parse it as API Gateway does
    event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True)) if query else None
    event["pathParameters"] = None
    text = raw_body if raw_body is not None else ("" if body is None else json.dumps(body))
    event["body"] = base64.b64encode(text.encode()).decode()
    event["isBase64Encoded"] = True
    event["headers"] = {"content-type": "application/json"}
    return event


def make_stage(ssm_values: dict[str, str] | None = None, *, create_bucket: bool = True) -> Stage:
    """Call inside `mock_aws()` (the clients must be created after the mock starts), or with
    `AWS_ENDPOINT_URL` naming a moto server whose bucket exists (`create_bucket=False`)."""
    s3 = s3_client(region_name=REGION)
    if create_bucket:
        s3.create_bucket(Bucket=BUCKET)
    ssm = ssm_client(region_name=REGION)
    for name, value in (ssm_values or {}).items():
        ssm.put_parameter(Name=PREFIX + name, Value=value, Type="String")
    lam = lambda_client(64, region_name=REGION)
    invokes = Invokes()
    lam.meta.events.register("before-send.lambda.Invoke", invokes.before_send)
    sleeps: list[float] = []
    # The dispatcher's clock is the sum of its (recorded, not slept) waits, and it paces nothing:
    # `InvokePacer` waits in real time (tests/functional/test_invoke_pacing.py tests it).
    dispatcher = LambdaDispatcher(
        BotoInvoker(lam),
        WORKER,
        ORCHESTRATOR,
        sleep=sleeps.append,
        rng=lambda: 1.0,
        clock=lambda: sum(sleeps),
        pacer=NoPacing,
    )
    store = S3Store(BUCKET, client=s3)
    settings = SsmSettings(PREFIX, client=ssm)
    runtime = Runtime(store=store, dispatcher=dispatcher, settings=settings)
    # the search function's steps are async invokes like the shards', captured the same way
    deps.use(OrchestratorDeps(runtime, dispatcher, "test", PREFIX, 300, LambdaSearchSteps(dispatcher, SEARCH)))
    worker = WorkerDeps(store=S3Store(BUCKET, client=s3), registry=Registry.default())
    return Stage(s3, ssm, lam, store, invokes, settings, dispatcher, sleeps, worker)


def s3_key(request: AWSPreparedRequest) -> str:
    """The object key an S3 request addresses (virtual-host or path style)."""
    url = urlsplit(request.url)
    path = unquote(url.path).lstrip("/")
    return path if url.netloc.startswith(BUCKET + ".") else path.partition("/")[2]
