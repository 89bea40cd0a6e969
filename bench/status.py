"""Status benchmark (issue 11, item 5): the S3 requests GET /runs/{id} makes for a 10,000-shard
run, and its answer time, against moto's S3 server on loopback with 20 ms added to every request.

The server runs in a process of its own and the run's objects go straight into its backend.
moto's generic serialiser takes seconds for a 1,000-key listing here (S3: tens of ms), which would
swamp every figure: the server answers ListObjectsV2 and GetObject itself from moto's backend
(`list_page`, `get_object`) and renders each page once (the bucket does not change while it is
measured), so a request costs it well under a millisecond beside the injected 20 ms; its own time
is still timed and given (`server_s`, summed over requests, which overlap when the client lists in
parallel).

"before" is the status path of a git ref (`BEFORE`, unpacked with `git archive` and put ahead of
this checkout on PYTHONPATH), "after" this checkout's; each runs in a client process of its own
(`status_client.py`) that answers GET /runs/{id} as the orchestrator does (its manifest loading,
its outcome reader, kept between polls as a warm container keeps them). The two are asked in
turn, in alternating order, so load on the shared machine falls on both alike; the load average
is recorded with every round. A client's first poll is a cold container's, the rest warm ones.
"""

from __future__ import annotations

import bisect
import json
import logging
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
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
sys.path.insert(0, str(ROOT / "bench"))

from coldstart import unpack  # noqa: E402  (bench/ on the path above: status.py also runs alone)

DELAY_S = 0.020
SHARDS = 10_000
FAILURES = 100
DUPLICATES = 3
REGION = "us-east-1"
BEFORE = "bc81c72"
"""main before this round of status work: 23 requests, two listings read one page after another."""
SOURCE_DIRS = ("libs/sweep_contracts/src", "libs/sweep_aws/src", "services/orchestrator/src")


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
    # the bucket does not change while it is measured: a page is rendered once, and each request
    # after the first costs the server next to nothing (status lists its pages in parallel, so
    # the server's time could no longer be subtracted from the client's)
    pages: dict[tuple[str, tuple[tuple[str, str], ...]], bytes] = {}

    def delayed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(delay_s)
        started = time.perf_counter()
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        bucket, _, key = unquote(environ["PATH_INFO"]).lstrip("/").partition("/")
        if environ["REQUEST_METHOD"] == "GET" and query.get("list-type") == "2":
            page = (bucket, tuple(sorted(query.items())))
            if page not in pages:
                pages[page] = list_page(backend, bucket, query)
            status, headers, body = "200 OK", [("Content-Type", "application/xml")], pages[page]
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
        if command in ("bucket", "put"):
            pages.clear()
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


class Client:
    """A client process polling one run's status through one source tree (None: this checkout)."""

    def __init__(self, tree: Path | None, url: str, bucket: str) -> None:
        env = dict(os.environ)
        if tree is not None:  # the old sources shadow the editable installs of this checkout
            env["PYTHONPATH"] = os.pathsep.join(str(tree / d) for d in SOURCE_DIRS)
        script = str(Path(__file__).with_name("status_client.py"))
        self.process = subprocess.Popen(
            [sys.executable, script, url, bucket], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def poll(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("poll\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def _median(polls: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(p[key] for p in polls), 3)


def scenario(endpoint: Endpoint, bucket: str, shards: int, failures: int, rounds: int, tree: Path) -> dict[str, Any]:
    expected = fill(endpoint, bucket, shards, failures, DUPLICATES if failures else 0)
    clients = {"before": Client(tree, endpoint.url, bucket), "after": Client(None, endpoint.url, bucket)}
    polls: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    loads = []
    try:
        for round_ in range(rounds + 1):  # round 0: each client's first poll, a cold container's
            order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            loads.append(round(os.getloadavg()[0], 1))
            for name in order:
                endpoint.ask("spent")
                poll = clients[name].poll()
                polls[name].append({**poll, "server_s": endpoint.ask("spent")})
    finally:
        for client in clients.values():
            client.stop()
    for name, runs in polls.items():
        counted = (runs[-1]["points_ok"], runs[-1]["points_error"])
        assert counted == (expected["points_ok"], expected["points_error"]), (name, counted, expected)
    figures: dict[str, Any] = {"shards": shards, "failed_shards": failures, "load_average_per_round": loads}
    for name, runs in polls.items():
        cold, warm = runs[0], runs[1:]
        figures[name] = {
            "cold_requests": cold["requests"],
            "cold_answer_s": round(cold["wall_s"], 3),
            "warm_requests": warm[-1]["requests"],
            "warm_answer_s": _median(warm, "wall_s"),
            "warm_client_cpu_s": _median(warm, "cpu_s"),
            "warm_server_s": _median(warm, "server_s"),
            "warm_answers_s": [round(p["wall_s"], 3) for p in warm],
            "failures_not_read": warm[-1]["failures_not_read"],
        }
    return figures


def run(repeats: int, shards: int = SHARDS, before: str = BEFORE) -> dict[str, Any]:
    """`repeats` interleaved warm polls of each client after its cold one, for a run where nothing
    failed and one where 100 shards failed."""
    logging.getLogger("sweep").setLevel(logging.WARNING)
    endpoint = Endpoint()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tree = unpack(before, Path(tmp))
            return {
                "delay_per_request_ms": DELAY_S * 1000,
                "before": before,
                "nothing_failed": scenario(endpoint, "sweep-bench-ok", shards, 0, repeats, tree),
                f"{FAILURES}_failed": scenario(endpoint, "sweep-bench-failures", shards, FAILURES, repeats, tree),
            }
    finally:
        endpoint.stop()


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]  # [repeats [shards]]
    print(json.dumps(run(*arguments) if arguments else run(5), indent=2, default=str))
