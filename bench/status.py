"""Status benchmark (issue 11, item 5): the S3 requests GET /runs/{id} makes for a 10,000-shard
run, and its answer time, against moto's S3 server on loopback with 20 ms added to every request.

The server runs in a process of its own (in ours, its threads would compete with the client for
the GIL) and the run's objects go straight into its backend. "before" is the former status path —
the manifest, a listing of the outcomes and a GET of each on 16 threads, which `sweep retry` still
uses as `read_outcomes` — on a client with botocore's own timestamp parser; "after" is today's
`run_status` on the client `sweep_aws.clients.s3_client` builds. moto's generic serialiser takes
seconds for a 1,000-key listing here and tens of ms for a GET (S3: tens of ms and a few), which
would swamp every figure: the server answers ListObjectsV2 and GetObject itself from moto's
backend (`list_page`, `get_object`), and moto's own app the rest; every time is also given net of the server's own
processing (timed in it, per request): what is left is the client's work and the injected 20 ms
a request. The latency floor: sequential requests × 20 ms.
"""

from __future__ import annotations

import bisect
import logging
import multiprocessing
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote
from xml.sax.saxutils import escape

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

DELAY_S = 0.020
SHARDS = 10_000
FAILURES = 100
DUPLICATES = 3
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": REGION}


def list_page(backend: Any, bucket: str, query: dict[str, str]) -> bytes:
    """A ListObjectsV2 page of moto's bucket (prefix, continuation token, 1,000 keys a page)."""
    prefix = query.get("prefix", "")
    names = sorted(name for name in backend.get_bucket(bucket).keys if name.startswith(prefix))
    after = query.get("continuation-token") or query.get("start-after")
    first = bisect.bisect_right(names, after) if after else 0
    page = names[first : first + min(int(query.get("max-keys", "1000")), 1000)]
    truncated = first + len(page) < len(names)
    url = query.get("encoding-type") == "url"

    def name(text: str) -> str:
        return escape(quote(text, safe="/") if url else text)

    contents = []
    for key in page:
        item = backend.get_object(bucket, key)
        contents.append(
            f"<Contents><Key>{name(key)}</Key><LastModified>{item.last_modified_ISO8601}</LastModified>"
            f"<ETag>{escape(item.etag)}</ETag><Size>{item.size}</Size><StorageClass>STANDARD</StorageClass></Contents>"
        )
    more = f"<NextContinuationToken>{escape(page[-1])}</NextContinuationToken>" if truncated else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>{bucket}</Name><Prefix>{name(prefix)}</Prefix><KeyCount>{len(page)}</KeyCount>"
        f"<MaxKeys>1000</MaxKeys>{'<EncodingType>url</EncodingType>' if url else ''}"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{more}{''.join(contents)}</ListBucketResult>"
    ).encode()


def get_object(backend: Any, bucket: str, key: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """A GetObject answer from moto's bucket: the object, or S3's 404."""
    item = backend.get_object(bucket, key)
    if item is None:
        body = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code><Message>none</Message></Error>"
        return "404 Not Found", [("Content-Type", "application/xml")], body
    headers = [("ETag", item.etag), ("Last-Modified", item.last_modified_RFC1123), ("Content-Type", "binary/data")]
    return "200 OK", headers, item.value


def serve(conn: Connection, delay_s: float) -> None:
    """The S3 endpoint: moto's WSGI app behind a middleware that waits `delay_s` before each
    request and times moto's own work; commands on `conn` fill buckets straight in the backend."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.s3.models import s3_backends
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = DomainDispatcherApplication(create_backend_app)
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    spent: list[float] = []

    def delayed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(delay_s)
        started = time.perf_counter()
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        bucket, _, key = unquote(environ["PATH_INFO"]).lstrip("/").partition("/")
        if environ["REQUEST_METHOD"] == "GET" and query.get("list-type") == "2":
            status, headers, body = "200 OK", [("Content-Type", "application/xml")], list_page(backend, bucket, query)
        elif environ["REQUEST_METHOD"] == "GET" and key and not query:
            status, headers, body = get_object(backend, bucket, key)
        else:
            body = b"".join(app(environ, start_response))
            spent.append(time.perf_counter() - started)
            return [body]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        spent.append(time.perf_counter() - started)
        return [body]

    server = make_server("127.0.0.1", 0, delayed, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    while True:
        command, arg = conn.recv()
        if command == "bucket":
            backend.create_bucket(arg, REGION)
        elif command == "put":
            bucket, items = arg
            for key, data in items:
                backend.put_object(bucket, key, data)
        elif command == "spent":
            conn.send(sum(spent))
            spent.clear()
            continue
        elif command == "stop":
            server.shutdown()
            return
        conn.send("ok")


class Endpoint:
    """The server process and a pipe to it."""

    def __init__(self, delay_s: float = DELAY_S) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, delay_s), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{self.conn.recv()}"

    def ask(self, command: str, arg: Any = None) -> Any:
        self.conn.send((command, arg))
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send(("stop", None))
        self.process.join(timeout=10)


def _client(url: str, fast: bool, requests: list[str]) -> Any:
    import boto3

    from sweep_aws.clients import S3_CONFIG, s3_client

    client = (
        s3_client(endpoint_url=url, **CREDENTIALS)
        if fast
        else boto3.client("s3", endpoint_url=url, config=S3_CONFIG, **CREDENTIALS)
    )
    client.meta.events.register("before-send.s3", lambda request, **_: requests.append(request.method))
    return client


def fill(endpoint: Endpoint, bucket: str, shards: int, failures: int, duplicates: int) -> dict[str, int]:
    """A finished run of `shards` in `bucket`: the manifest by the real submit, every outcome and
    points object as `tests/big_run.py` writes them."""
    from tests.big_run import submit_big, write_outcomes

    from sweep_contracts.storage import MemoryStore

    endpoint.ask("bucket", bucket)
    memory = MemoryStore()
    manifest = submit_big(memory, shards)
    items = list(memory.objects.items())
    expected = write_outcomes(lambda key, data: items.append((key, data)), manifest, failures, duplicates)
    for start in range(0, len(items), 2000):
        endpoint.ask("put", (bucket, items[start : start + 2000]))
    return vars(expected)


def measure(endpoint: Endpoint, call: Callable[[], Any], requests: list[str]) -> dict[str, Any]:
    endpoint.ask("spent")
    requests.clear()
    started = time.perf_counter()
    answer = call()
    wall = time.perf_counter() - started
    moto = endpoint.ask("spent")
    return {"requests": len(requests), "wall_s": wall, "moto_s": moto, "answer": answer}


def scenario(endpoint: Endpoint, bucket: str, shards: int, failures: int, repeats: int) -> dict[str, Any]:
    from tests.big_run import RUN

    from sweep_aws.s3 import S3Store
    from sweep_orchestrator.runs import load_manifest
    from sweep_orchestrator.status import read_outcomes, run_status

    expected = fill(endpoint, bucket, shards, failures, DUPLICATES if failures else 0)
    requests: list[str] = []
    new = S3Store(bucket, client=_client(endpoint.url, True, requests))
    old = S3Store(bucket, client=_client(endpoint.url, False, requests))

    def before() -> int:
        load_manifest(old, RUN)
        return len(read_outcomes(old, RUN))

    afters = [measure(endpoint, lambda: run_status(new, RUN), requests) for _ in range(repeats)]
    status = afters[0]["answer"]
    assert (status.points_ok, status.points_error) == (expected["points_ok"], expected["points_error"])
    was = measure(endpoint, before, requests)
    assert was["answer"] == shards
    on_botocore_parser = measure(endpoint, lambda: run_status(old, RUN), requests)

    def median(runs: list[dict[str, Any]], key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 3)

    after_net = [r["wall_s"] - r["moto_s"] for r in afters]
    return {
        "shards": shards,
        "failed_shards": failures,
        "after": {
            "requests": afters[0]["requests"],
            "answer_s": median(afters, "wall_s"),
            "moto_s": median(afters, "moto_s"),
            "answer_net_of_moto_s": round(statistics.median(after_net), 3),
            "runs_answer_s": [round(r["wall_s"], 3) for r in afters],
            "latency_floor_s": round(afters[0]["requests"] * DELAY_S, 3),
            "net_of_moto_on_botocore_parser_s": round(on_botocore_parser["wall_s"] - on_botocore_parser["moto_s"], 3),
            "failed_shards_listed": len(status.failed_shards),
            "failures_not_read": status.failures_not_read,
        },
        "before": {
            "requests": was["requests"],
            "answer_s": round(was["wall_s"], 3),
            "moto_s": round(was["moto_s"], 3),
            # 16 threads: the GETs' latency alone, beside the sequential listing pages and manifest
            "latency_floor_s": round((shards / 16 + (was["requests"] - shards)) * DELAY_S, 3),
        },
    }


def run(repeats: int, shards: int = SHARDS) -> dict[str, Any]:
    logging.getLogger("sweep").setLevel(logging.WARNING)
    endpoint = Endpoint()
    try:
        return {
            "delay_per_request_ms": DELAY_S * 1000,
            "nothing_failed": scenario(endpoint, "sweep-bench-ok", shards, 0, repeats),
            f"{FAILURES}_failed": scenario(endpoint, "sweep-bench-failures", shards, FAILURES, repeats),
        }
    finally:
        endpoint.stop()


if __name__ == "__main__":
    import json

    arguments = [int(a) for a in sys.argv[1:3]]  # [repeats [shards]]
    print(json.dumps(run(*arguments) if arguments else run(3), indent=2, default=str))
