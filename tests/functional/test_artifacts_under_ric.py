"""The Lambda artifacts as Lambda runs them: unzipped, started by AWS's runtime interface client
(`python -m awslambdaric <handler>`), fed through a Runtime API on loopback, against a moto server.

Nothing of the repository or this virtualenv is importable by the functions: the interpreter starts
without site-packages (`-S`), the artifact comes first on its path (Lambda's `/var/task`) and the
runtime client after it (Lambda's `/var/runtime`). What this proves that importing a handler does
not: the handler strings the stack deploys, the context object the client builds from the Runtime
API's headers (its deadline feeds the worker's time budget), the JSON encoding of every answer, and
the cold start (interpreter, client and handler imports) as the service sees it.

moto runs no Lambda code, so the orchestrator's asynchronous invokes go to a recording Lambda
endpoint on loopback (`AWS_ENDPOINT_URL_LAMBDA`); the test hands each to the function it names."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import queue
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from moto.server import ThreadedMotoServer

from sweep_aws.clients import s3_client
from sweep_contracts import environment
from sweep_contracts.outcomes import ErrorCode
from sweep_infra import packaging, stack
from sweep_orchestrator.dispatch_task import DISPATCH_KIND
from tests.cloud import BUCKET, ORCHESTRATOR, PREFIX, REGION, WORKER, api_event
from tests.helpers import tasks_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(platform.system() != "Linux", reason="manylinux wheels run on Linux"),
]

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
# the runtime client and what it imports: Lambda's /var/runtime, after the function's own packages
RUNTIME_MODULES = ("awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py")
INVOKE_TIMEOUT_S = 120
SEARCH = "sweep-test-search"
SEARCH_REQUEST: dict[str, Any] = {
    "experiment": "synthetic",
    "run_id": "ric-search",
    "config": {"noise": 0.0},
    "search": {"space": {"x": {"uniform": [-1, 1]}}, "seed": 5, "budget": {"trials": 6}, "batch": 3},
}
SWEEP: dict[str, Any] = {
    "experiment": "maze",
    "run_id": "ric-1",
    "config": {"size": 7, "max_moves": 200},
    "grid": {"strategy": ["wall-follower", "dfs-recall"]},
    "repeats": 3,
    "shard_size": 2,
}


@dataclass
class Answer:
    """What a function posted back for one invocation: `response` or `error`, and its JSON."""

    kind: str
    body: Any
    seconds: float  # from the runtime client taking the event to its answer


@dataclass
class RuntimeApi:
    """Lambda's Runtime API for one execution environment: `next` hands out queued events with the
    headers Lambda sends, `response` and `error` are collected by request id."""

    function_arn: str
    events: queue.Queue[tuple[str, bytes, float] | None] = field(default_factory=queue.Queue)
    answers: dict[str, queue.Queue[Answer]] = field(default_factory=dict)
    taken_at: dict[str, float] = field(default_factory=dict)
    first_next_at: float | None = None
    init_errors: list[Any] = field(default_factory=list)

    def serve(self) -> ThreadingHTTPServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_error(404)
                    return
                if api.first_next_at is None:
                    api.first_next_at = time.perf_counter()
                # a bounded wait: Lambda holds `next` until an event comes; the test stops the process
                try:
                    item = api.events.get(timeout=INVOKE_TIMEOUT_S)
                except queue.Empty:
                    item = None
                if item is None:  # the environment was stopped, or the test gave up waiting: no answer
                    self.close_connection = True
                    return
                request_id, body, deadline_s = item
                # the invocation's time starts when the environment takes it, after its init, as on Lambda
                deadline_ms = int((time.time() + deadline_s) * 1000)
                api.taken_at[request_id] = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", api.function_arn)
                self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.strip("/").split("/")
                if parts[-2:] == ["init", "error"]:
                    api.init_errors.append(json.loads(body or b"null"))
                elif len(parts) == 5 and parts[4] in ("response", "error"):
                    request_id = unquote(parts[3])
                    seconds = time.perf_counter() - api.taken_at[request_id]
                    api.answers[request_id].put(Answer(parts[4], json.loads(body), seconds))
                else:
                    self.send_error(404)
                    return
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def send(self, event: Any, deadline_s: float) -> str:
        """Queue `event` for the next `next`, with a deadline `deadline_s` after it is taken; its request id."""
        request_id = str(uuid.uuid4())
        self.answers[request_id] = queue.Queue()
        self.events.put((request_id, json.dumps(event).encode(), deadline_s))
        return request_id


@dataclass
class LambdaEndpoint:
    """Lambda's Invoke API on loopback: records each signed `Event` invoke and accepts it (202)."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> ThreadingHTTPServer:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.strip("/").split("/")
                signed = (self.headers.get("Authorization") or "").startswith("AWS4-HMAC-SHA256 ")
                is_event = self.headers.get("X-Amz-Invocation-Type") == "Event"
                if (
                    parts[:2] != ["2015-03-31", "functions"]
                    or parts[3:] != ["invocations"]
                    or not signed
                    or not is_event
                ):
                    with endpoint.lock:
                        endpoint.refused.append(self.path)
                    self.send_error(400)
                    return
                with endpoint.lock:
                    endpoint.calls.append((unquote(parts[2]), json.loads(body)))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            taken, self.calls = self.calls, []
        return sorted(taken, key=lambda c: (c[0], c[1].get("shard_id", -1)))


@dataclass
class Function:
    """One execution environment: the runtime client's process and its Runtime API."""

    api: RuntimeApi
    server: ThreadingHTTPServer
    process: subprocess.Popen[bytes]
    started_at: float
    log: Path

    @property
    def cold_start_s(self) -> float:
        """From starting the interpreter to the client's first `next`: what Lambda bills as INIT."""
        assert self.api.first_next_at is not None
        return self.api.first_next_at - self.started_at

    def invoke(self, event: Any, deadline_s: float = 60) -> tuple[str, Answer]:
        """One invocation, as Lambda makes it: (its request id, the function's answer). Fails at once
        when the environment died (a handler string that names nothing ends it at init)."""
        request_id = self.api.send(event, deadline_s)
        waited_until = time.monotonic() + INVOKE_TIMEOUT_S
        while time.monotonic() < waited_until:
            try:
                return request_id, self.api.answers[request_id].get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-3000:]
                    pytest.fail(
                        f"the runtime client exited ({self.process.returncode}): {self.api.init_errors}\n{tail}"
                    )
        pytest.fail(f"no answer in {INVOKE_TIMEOUT_S} s:\n{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.api.events.put(None)  # a `next` still waiting (the client's poll) returns now
        self.server.shutdown()
        self.server.server_close()


def runtime_dir(tmp: Path) -> Path:
    """Lambda's /var/runtime: links to the runtime client and its dependencies, and nothing else."""
    runtime = tmp / "runtime"
    runtime.mkdir()
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        assert spec is not None, f"{name} is not installed: `make install`"
        assert spec.origin is not None
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    return runtime


def start(handler: str, task: Path, runtime: Path, name: str, env: dict[str, str], logs: Path) -> Function:
    api = RuntimeApi(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    server = api.serve()
    host, port = server.server_address[:2]
    log = logs / f"{name}.log"
    environment_ = {
        **env,
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{task}:{runtime}",
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": str(runtime),
        "AWS_LAMBDA_RUNTIME_API": f"{host}:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "ric",
        "_HANDLER": handler,
        "TZ": ":UTC",
    }
    started_at = time.perf_counter()
    with log.open("wb") as out:
        # -S: no site-packages (neither this virtualenv's nor the user's); -B: /var/task is read-only
        process = subprocess.Popen(
            [sys.executable, "-S", "-B", "-m", "awslambdaric", handler],
            cwd=task,
            env=environment_,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Function(api, server, process, started_at, log)


@dataclass
class Stage:
    orchestrator: Function
    worker: Function
    lam: LambdaEndpoint
    s3: Any
    env: dict[str, str]
    runtime: Path
    logs: Path


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both artifacts, built for this machine's platform and CPython by the recipe `make package` uses."""
    out = tmp_path_factory.mktemp("lambda")
    here = f"{platform.machine()}-manylinux_2_28"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    sites = {}
    for name in packaging.FUNCTIONS:
        artifact = packaging.build(name, ROOT, out, platform=here, python=python)
        site = out / f"{name}-task"
        zipfile.ZipFile(artifact.path).extractall(site)
        sites[name] = site
    return sites


@pytest.fixture
def stage(artifacts: dict[str, Path], tmp_path: Path) -> Iterator[Stage]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    lam = LambdaEndpoint()
    lam_server = lam.serve()
    functions: list[Function] = []
    try:
        moto_host, moto_port = moto.get_host_and_port()
        lam_host, lam_port = lam_server.server_address[:2]
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": f"http://{moto_host}:{moto_port}",
            "AWS_ENDPOINT_URL_LAMBDA": f"http://{lam_host}:{lam_port}",
            environment.STAGE: "test",
            environment.STORE: f"s3://{BUCKET}",
            environment.PARAMETER_PREFIX: PREFIX,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        previous = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            s3 = s3_client(region_name=REGION)
            s3.create_bucket(Bucket=BUCKET)
        finally:
            for k, v in previous.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        runtime = runtime_dir(tmp_path)
        orchestrator_env = {
            **env,
            environment.WORKER_FUNCTION: WORKER,
            environment.ORCHESTRATOR_FUNCTION: ORCHESTRATOR,
            environment.SETTINGS_TTL: "300",
            "POWERTOOLS_SERVICE_NAME": "sweep-orchestrator",
        }
        worker_env = {**env, "POWERTOOLS_SERVICE_NAME": "sweep-worker"}
        orchestrator = start(
            stack.ORCHESTRATOR_HANDLER, artifacts["orchestrator"], runtime, ORCHESTRATOR, orchestrator_env, tmp_path
        )
        functions.append(orchestrator)
        worker = start(stack.WORKER_HANDLER, artifacts["worker"], runtime, WORKER, worker_env, tmp_path)
        functions.append(worker)
        yield Stage(orchestrator, worker, lam, s3, env, runtime, tmp_path)
    finally:
        for function in functions:
            function.stop()
        lam_server.shutdown()
        lam_server.server_close()
        moto.stop()


def http(function: Function, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """An HTTP API request through the orchestrator's runtime client: (status, decoded body)."""
    _, answer = function.invoke(api_event(method, path, body))
    assert answer.kind == "response", answer.body
    return answer.body["statusCode"], json.loads(answer.body["body"]) if answer.body.get("body") else None


def test_a_run_goes_through_both_artifacts_under_the_runtime_client(stage: Stage) -> None:
    # GIVEN both artifacts, each started by the runtime client with the handler string the stack deploys
    # WHEN a run is submitted through the orchestrator's HTTP API entry
    status, body = http(stage.orchestrator, "POST", "/runs", SWEEP)
    assert (status, body["run_id"], body["points"], body["shards"]) == (202, "ric-1", 6, 3), body
    init = {"orchestrator": stage.orchestrator.cold_start_s}
    # AND every invoke it makes is delivered to the function it names, each under its runtime client
    shards: list[dict[str, Any]] = []
    for _ in range(20):  # bounded: a fan-out tree of this size is one or two levels deep
        calls = stage.lam.take()
        if not calls:
            break
        for function, payload in calls:
            if function == ORCHESTRATOR:
                assert payload["kind"] == DISPATCH_KIND
                _, answer = stage.orchestrator.invoke(payload)
                assert answer.kind == "response", answer.body
            else:
                assert function == WORKER
                request_id, answer = stage.worker.invoke(payload, deadline_s=60)
                assert answer.kind == "response", answer.body
                # the context object reached the worker: its request id is the Runtime API's
                assert (answer.body["status"], answer.body["request_id"]) == ("success", request_id)
                shards.append(answer.body)
                init.setdefault("worker", stage.worker.cold_start_s)
    assert stage.lam.refused == []
    assert sorted(s["shard_id"] for s in shards) == [0, 1, 2]
    assert sum(s["points_ok"] for s in shards) == 6
    # THEN the run, read back through the orchestrator, has succeeded
    status, run = http(stage.orchestrator, "GET", "/runs/ric-1")
    assert (status, run["state"], run["shards_success"], run["points_ok"]) == (200, "succeeded", 3, 6), run
    assert stage.orchestrator.api.init_errors == stage.worker.api.init_errors == []
    print(f"\n  cold start under awslambdaric: {', '.join(f'{k} {v:.2f} s' for k, v in init.items())}")


def record_search(s3: Any, request: dict[str, Any]) -> None:
    """The search's record in the stage's bucket, as the orchestrator's submit writes it."""
    from sweep_aws.s3 import S3Store
    from sweep_contracts.settings import SystemSettings
    from sweep_orchestrator.dispatch import RecordingDispatcher
    from sweep_orchestrator.runtime import Runtime
    from sweep_orchestrator.search.rounds import start_search

    defaults = SystemSettings.resolve({}, source="default")
    start_search(request, Runtime(S3Store(BUCKET, client=s3), RecordingDispatcher(), lambda: defaults))


@pytest.fixture
def search_function(stage: Stage, artifacts: dict[str, Path]) -> Iterator[Function]:
    """The search function beside the stage's two, started only for the test that uses it (three
    cold starts at once would slow the others' on this 2-core machine). As the stack deploys it:
    the worker to invoke, no orchestrator (no fan-out tree to hand to)."""
    env = {**stage.env, environment.WORKER_FUNCTION: WORKER, "POWERTOOLS_SERVICE_NAME": "sweep-search"}
    function = start(stack.SEARCH_HANDLER, artifacts["search"], stage.runtime, SEARCH, env, stage.logs)
    try:
        yield function
    finally:
        function.stop()


def test_a_search_step_starts_a_round_through_the_search_artifact(stage: Stage, search_function: Function) -> None:
    search = search_function
    # GIVEN a search recorded in the stage's bucket, and the search artifact under the runtime client
    record_search(stage.s3, SEARCH_REQUEST)
    # WHEN the orchestrator's step event for it arrives, twice (at-least-once)
    step = {"kind": "search.step", "search_id": "ric-search"}
    _, first = search.invoke(step)
    _, again = search.invoke(step)
    # THEN the first asked Optuna for round 1's three trials and handed each trial's shard to the worker,
    # the second found the round running
    assert first.kind == "response", first.body
    assert first.body == {"searches": {"ric-search": {"step": "started", "round": 0}}}
    assert again.body == {"searches": {"ric-search": {"step": "waiting", "round": 0}}}
    calls = stage.lam.take()
    assert [(f, p["run_id"], p["shard_id"]) for f, p in calls] == [(WORKER, "ric-search-r000", i) for i in range(3)]
    assert all(p.get("tally_series") is True for _, p in calls)
    # AND the worker runs them; the outcomes' S3 notification brings the search function to round 2
    outcomes = []
    for _, payload in calls:
        _, answer = stage.worker.invoke(payload)
        assert (answer.kind, answer.body["status"]) == ("response", "success"), answer.body
    listed = stage.s3.list_objects_v2(Bucket=BUCKET, Prefix="outcomes/run_id=ric-search-r000/")
    outcomes = [item["Key"] for item in listed["Contents"]]
    notification = {
        "Records": [
            {"eventSource": "aws:s3", "s3": {"bucket": {"name": BUCKET}, "object": {"key": k}}} for k in outcomes
        ]
    }
    _, answer = search.invoke(notification)
    assert answer.body == {"searches": {"ric-search": {"step": "started", "round": 1}}}
    assert [p["run_id"] for _, p in stage.lam.take()] == ["ric-search-r001"] * 3
    assert search.api.init_errors == []
    print(f"\n  search function cold start under awslambdaric: {search.cold_start_s:.2f} s")


def test_the_workers_budget_follows_the_deadline_lambda_gives(stage: Stage) -> None:
    # GIVEN a shard of 20 points of 300 ms each (6 s), keeping a 1 s margin to write its results
    points = [{"x": i} for i in range(20)]
    factory = tasks_for(
        {"experiment": "synthetic", "config": {"y": 0.0, "sleep_ms": 300}, "points": points},
        "ric-budget",
        settings={"time_budget_margin_ms": 1000},
    )
    # AND an environment that has run a shard already (its lazy imports done: pyarrow, the experiment),
    # since a cold one under a loaded machine spent the whole 3 s importing and ran no point
    warm = tasks_for({"experiment": "synthetic", "config": {"y": 0.0}, "grid": {"x": [1]}}, "ric-budget-warm")
    _, warmed = stage.worker.invoke(warm.event(0))
    assert (warmed.kind, warmed.body["status"]) == ("response", "success"), warmed.body
    # WHEN Lambda gives the invocation 4 s (Lambda-Runtime-Deadline-Ms)
    _, answer = stage.worker.invoke(factory.event(0), deadline_s=4)
    # THEN the worker stops when the context says its time is nearly up, not after the 900 s it assumes
    # without one: about (4 s - 1 s margin) / 0.3 s points, recorded as a time-budget failure to retry
    assert answer.kind == "response", answer.body
    body = answer.body
    assert (body["status"], body["error_code"]) == ("failure", ErrorCode.TIME_BUDGET.value), body
    # (how many ran depends on this machine's load: the figure is printed, not asserted)
    assert 1 <= body["points_ok"] < 20, body
    print(f"\n  4 s deadline: {body['points_ok']} of 20 points, answered after {answer.seconds:.2f} s")


def test_a_handler_error_is_posted_as_lambda_expects_and_the_environment_lives_on(stage: Stage) -> None:
    # GIVEN an event that names no run and shard, so that no outcome can be recorded: the worker raises
    _, answer = stage.worker.invoke({"kind": "sweep.shard", "config": {"y": 1.0}})
    # THEN the runtime client posts it to the invocation's `error`, typed, with its message
    assert answer.kind == "error"
    assert answer.body["errorType"] == "InvalidTaskError", answer.body
    assert "run_id" in answer.body["errorMessage"], answer.body
    # AND the same execution environment takes the next invocation, as Lambda reuses it
    event = tasks_for({"experiment": "synthetic", "config": {"y": 1.0}, "grid": {"x": [1, 2]}}, "ric-after").event(0)
    _, answer = stage.worker.invoke(event)
    assert (answer.kind, answer.body["status"], answer.body["points_ok"]) == ("response", "success", 2)
    assert stage.worker.process.poll() is None


def test_the_functions_import_only_their_artifact_and_the_runtime_client(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN the interpreter and path the runtime client runs the functions with
    runtime = runtime_dir(tmp_path)
    script = (
        "import importlib, json, sys\n"
        "names = sys.argv[1:]\n"
        "found = {}\n"
        "for n in names:\n"
        "    try:\n"
        "        found[n] = importlib.import_module(n).__file__\n"
        "    except ImportError:\n"
        "        found[n] = None\n"
        "print(json.dumps(found))\n"
    )
    for name, handler in (
        ("orchestrator", stack.ORCHESTRATOR_HANDLER),
        ("worker", stack.WORKER_HANDLER),
        ("search", stack.SEARCH_HANDLER),
    ):
        task = artifacts[name]
        extra = ["optuna"] if name == "search" else []  # the search function's reason to exist
        # what the search artifact leaves out (Optuna's RDB storage, its CLI's YAML) is not there to import
        absent = list(packaging.SEARCH_LEFT_OUT.values()) if name == "search" else []
        modules = [
            handler.rpartition(".")[0],
            "pydantic",
            "boto3",
            *extra,
            "awslambdaric",
            "sweep_infra",
            "pytest",
            *absent,
        ]
        # WHEN it imports the handler's module, its dependencies, and what only the repository has
        done = subprocess.run(
            [sys.executable, "-S", "-B", "-c", script, *modules],
            cwd=task,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{task}:{runtime}", "SWEEP_STORE": str(tmp_path)},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
        # THEN the function's code and dependencies come from its artifact, the client from the runtime,
        # and neither the repository's packages nor this virtualenv's are there to hide a missing one
        for module in modules[: 3 + len(extra)]:
            assert found[module] is not None, module
            assert Path(found[module]).is_relative_to(task), (module, found[module])
        assert Path(found["awslambdaric"]).parent.parent == runtime
        assert (found["sweep_infra"], found["pytest"]) == (None, None)
        assert [found[module] for module in absent] == [None] * len(absent)
