"""A loopback HTTP server that misbehaves for real, for the LLM experiments' hostile-server tests:
it reads the request, then hands the raw socket to a script (`Script(server, handler)`) that
sends whatever it likes. Every script is bounded in bytes and time; the server counts the
connections still open (`open_connections`) and the bytes each script sent (`sent`)."""

from __future__ import annotations

import json
import select
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[["HostileServer", BaseHTTPRequestHandler], None]
MAX_SCRIPT_S = 30.0
"""No script runs longer than this, whatever the client does."""


class HostileServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.sent = 0
        self.open_connections = 0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # the listen backlog is set before `listen`: assigned after the constructor, it stayed 5, and a
        # burst of new connections (a shard opening `concurrency` of them) could be reset
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(), bind_and_activate=False)
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 256
        self._httpd.server_bind()
        self._httpd.server_activate()
        # clients hang up on these servers by design (that is what the tests check): a reset while
        # the script writes is expected, not a traceback on the test's stderr
        self._httpd.handle_error = self._quiet  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @staticmethod
    def _quiet(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            traceback.print_exc()

    def count(self, sent: int = 0, opened: int = 0) -> None:
        with self._lock:
            self.sent += sent
            self.open_connections += opened

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                server.count(opened=1)

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    server.count(opened=-1)

            def do_GET(self) -> None:
                server.script(server, self)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:  # the client gave up while sending
                    self.close_connection = True
                    return
                with server._lock:
                    server.requests.append(body)
                try:
                    server.script(server, self)
                except OSError:
                    self.close_connection = True  # the client hung up: what these tests want

        return Handler

    @contextmanager
    def running(self) -> Iterator[HostileServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()


def send(server: HostileServer, handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(data)
    handler.wfile.flush()
    server.count(sent=len(data))


def head(handler: BaseHTTPRequestHandler, **headers: str) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "application/json")
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()


def ollama_reply(content: str = "4", **fields: Any) -> bytes:
    body = {"model": "m", "message": {"role": "assistant", "content": content}, "done": True, "done_reason": "stop"}
    return json.dumps(body | fields).encode()


def huge_body(total: int) -> Script:
    """A valid JSON answer of `total` bytes, declared in content-length, sent in 64 KiB writes."""

    def script(server: HostileServer, handler: BaseHTTPRequestHandler) -> None:
        prefix, suffix = b'{"message": {"role": "assistant", "content": "', b'"}, "done": true}'
        head(handler, content_length=str(total))
        send(server, handler, prefix)
        left = total - len(prefix) - len(suffix)
        block = b"x" * 65536
        while left > 0:
            send(server, handler, block[:left])
            left -= min(left, len(block))
        send(server, handler, suffix)

    return script


def endless_chunks(server: HostileServer, handler: BaseHTTPRequestHandler) -> None:
    """A chunked answer that never ends (bounded at 256 MiB and MAX_SCRIPT_S for the test's sake)."""
    head(handler, transfer_encoding="chunked")
    send(server, handler, b'4\r\n{"a"\r\n')
    chunk = b"x" * 65536
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    started = time.monotonic()
    while server.sent < 256 * 1024 * 1024 and time.monotonic() - started < MAX_SCRIPT_S:
        send(server, handler, frame)


def gzip_bomb(inflated: int) -> tuple[bytes, Script]:
    """A gzip body of `inflated` zero bytes (1 GiB compresses to ~1 MB), and a script sending it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1024 * 1024)
    parts = [packer.compress(zeros) for _ in range(inflated // len(zeros))]
    data = b"".join(parts) + packer.flush()

    def script(server: HostileServer, handler: BaseHTTPRequestHandler) -> None:
        head(handler, content_encoding="gzip", content_length=str(len(data)))
        send(server, handler, data)

    return data, script


def trickle(every_s: float, in_headers: bool = False, limit: int = 60) -> Script:
    """One byte every `every_s` seconds, of the body (or of the headers), at most `limit` bytes."""

    def script(server: HostileServer, handler: BaseHTTPRequestHandler) -> None:
        data = ollama_reply()
        if in_headers:
            send(server, handler, b"HTTP/1.1 200 OK\r\n")
            data = b"x-slow: " + b"a" * 1000 + b"\r\n"
        else:
            head(handler, content_length=str(len(data)))
        for byte in data[:limit]:
            send(server, handler, bytes([byte]))
            time.sleep(every_s)

    return script


def hang(server: HostileServer, handler: BaseHTTPRequestHandler) -> None:
    """Answer nothing until the client hangs up (at most MAX_SCRIPT_S)."""
    connection = handler.connection
    deadline = time.monotonic() + MAX_SCRIPT_S
    while time.monotonic() < deadline:
        readable, _, _ = select.select([connection], [], [], 0.05)
        if readable and not connection.recv(1, 0):
            break  # the client closed the connection
    handler.close_connection = True
