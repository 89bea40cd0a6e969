"""Dispatch benchmark: POST /runs through the orchestrator handler against a fake Lambda endpoint
on loopback that answers each worker invoke after 20 ms.

The endpoint runs in its own process; an async invoke of the orchestrator (a node of the fan-out
tree) is answered at once and handled by a separate process, as Lambda would run it in its own
sandbox. Measured: how long POST /runs takes to answer, how long until the first worker invoke
arrives (submit to first shard started: add the worker's cold start, (f), for the first result),
and shards/s until the last worker invoke has arrived, against a baseline of one thread invoking
the shards one by one."""

from __future__ import annotations

import json
import logging
import multiprocessing
import multiprocessing.pool
import os
import shutil
import signal
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from botocore.credentials import Credentials

from sweep_aws.clients import lambda_client
from sweep_aws.invoke import BotoInvoker, SignedHttpInvoker
from sweep_contracts.settings import SystemSettings
from sweep_contracts.storage import LocalStore
from sweep_orchestrator import deps, handler
from sweep_orchestrator.deps import OrchestratorDeps
from sweep_orchestrator.lambda_dispatch import DispatchPolicy, LambdaDispatcher
from sweep_orchestrator.runtime import Runtime

WORKER, ORCHESTRATOR = "bench-worker", "bench-orchestrator"
INVOKE_DELAY_S = 0.020
CHILD_SANDBOXES = 4
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


class Context:
    function_name = ORCHESTRATOR
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{ORCHESTRATOR}"
    aws_request_id = "bench"


def invoker(url: str, pool: int) -> SignedHttpInvoker:
    credentials = Credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
    return SignedHttpInvoker(url, CREDENTIALS["region_name"], credentials.get_frozen_credentials, pool)


STORE = tempfile.mkdtemp(prefix="sweep-bench-dispatch-")
"""The results bucket every sandbox shares: a fan-out node checks its dispatch task against the
run's manifest (trust boundaries), which the POST /runs sandbox wrote."""


def install_deps(url: str) -> None:
    logging.getLogger("sweep").setLevel(logging.WARNING)
    settings = SystemSettings.resolve({}, source="default")
    dispatcher = LambdaDispatcher(invoker(url, 256), WORKER, ORCHESTRATOR)
    runtime = Runtime(store=LocalStore(STORE), dispatcher=dispatcher, settings=lambda: settings)
    deps.use(OrchestratorDeps(runtime, dispatcher, "bench", "/sweep/bench/", 300))


def _child(url: str, payload: bytes) -> None:
    install_deps(url)
    handler.handler(json.loads(payload), Context())


def _serve(conn: Connection, counter: Synchronized[int]) -> None:
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    sandboxes = multiprocessing.get_context("fork").Pool(CHILD_SANDBOXES)
    lock = threading.Lock()

    def stop(signum: int, frame: Any) -> None:
        sandboxes.terminate()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024
        daemon_threads = True

    class Lambda(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            function = self.path.split("/functions/")[1].split("/")[0]
            if function == ORCHESTRATOR:
                sandboxes.apply_async(_child, (url, body))
            else:
                time.sleep(INVOKE_DELAY_S)
                with lock:
                    counter.value += 1
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = Server(("127.0.0.1", 0), Lambda)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    conn.send(url)
    server.serve_forever()


class FakeLambda:
    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self.counter: Synchronized[int] = context.Value("i", 0)
        parent, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, self.counter))  # not daemonic: it forks sandboxes
        self.process.start()
        self.url: str = parent.recv()

    def invoked(self) -> int:
        return int(self.counter.value)

    def reset(self) -> None:
        with self.counter.get_lock():
            self.counter.value = 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.join()
        shutil.rmtree(STORE, ignore_errors=True)


def api_event(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /runs",
        "rawPath": "/runs",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "isBase64Encoded": False,
        "body": json.dumps(body),
        "requestContext": {
            "http": {
                "method": "POST",
                "path": "/runs",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "domainName": "bench.local",
            "requestId": "bench",
            "routeKey": "POST /runs",
            "stage": "$default",
            "accountId": "123456789012",
            "apiId": "b",
        },
    }


def submit(lam: FakeLambda, shards: int, run: int) -> dict[str, float]:
    """POST /runs with `shards` one-point shards; time the answer, then wait for every invoke."""
    lam.reset()
    install_deps(lam.url)
    body = {
        "experiment": "synthetic",
        "run_id": f"bench-{shards}-{run}",
        "config": {"y": 0.0},
        "grid": {"x": list(range(shards))},
        "shard_size": 1,
    }
    first: list[float] = []

    def watch_first() -> None:  # the first worker invoke may arrive before POST /runs answers
        while not lam.invoked() and time.perf_counter() - started < 300:
            time.sleep(0.0005)
        first.append(time.perf_counter() - started)

    started = time.perf_counter()
    watcher = threading.Thread(target=watch_first, daemon=True)
    watcher.start()
    answer = handler.handler(api_event(body), Context())
    answered = time.perf_counter() - started
    assert answer["statusCode"] == 202, answer
    while lam.invoked() < shards:
        time.sleep(0.005)
        if time.perf_counter() - started > 300:
            raise TimeoutError(f"only {lam.invoked()} of {shards} invokes arrived")
    total = time.perf_counter() - started
    watcher.join()
    return {"answer_s": answered, "first_invoke_s": first[0], "total_s": total, "shards_per_s": shards / total}


def sequential(lam: FakeLambda, shards: int) -> float:
    """The baseline: one thread, one invoke after another (shards/s)."""
    lam.reset()
    dispatcher = LambdaDispatcher(BotoInvoker(lambda_client(1, endpoint_url=lam.url, **CREDENTIALS)), WORKER)
    policy = DispatchPolicy(concurrency=1, max_attempts=1, fanout_batch=10**6)
    payload = json.dumps({"kind": "sweep.shard", "x": "y" * 300})
    started = time.perf_counter()
    for _ in range(shards):
        assert dispatcher.invoke(WORKER, payload, policy) is None
    return shards / (time.perf_counter() - started)
