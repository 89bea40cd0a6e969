"""A loopback model server written from the public API docs of Ollama (`POST /api/chat`,
non-streaming) and OpenAI (`POST /v1/chat/completions`), for tests and the benchmark.

It answers arithmetic questions correctly ("What is 3 + 4?" -> "7"), a maze prompt with a tool
call (a seeded random walk over the open directions it is told), anything else with "ok". A test
scripts faults by passing `behave(request, seen) -> Fault | None`, where `seen` counts earlier
requests with the same prompt text."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ARITH = re.compile(r"What is (-?\d+) ([+*-]) (-?\d+)\?")
_OPEN = re.compile(r"Open directions: ([a-z, ]*)\.")


@dataclass
class Fault:
    """What to answer instead of a normal reply."""

    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False  # send the headers and part of the body, then close the connection


Behave = Callable[[dict[str, Any], int], Fault | None]


def answer(messages: list[dict[str, Any]], nonce: int = 0) -> tuple[str, dict[str, Any] | None]:
    """Reply text, or a tool call (name, arguments) when the prompt is a maze turn: a random
    open direction, drawn from `nonce` (the server's request count) so a walk never cycles."""
    last = str(messages[-1].get("content") or "")
    if (m := _ARITH.search(last)) is not None:
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        return str(a + b if op == "+" else a - b if op == "-" else a * b), None
    if (m := _OPEN.search(last)) is not None:
        options = [d.strip() for d in m.group(1).split(",") if d.strip()]
        rng = random.Random(f"{nonce}:{last}")
        return "", {"name": "move", "arguments": {"direction": rng.choice(options)}}
    return "ok", None


class FakeModelServer:
    """Threaded loopback HTTP server; `requests` holds every JSON body received, in order."""

    def __init__(self, behave: Behave | None = None, delay_s: float = 0.0, omit_counters: bool = False) -> None:
        self.behave = behave
        self.delay_s = delay_s
        self.omit_counters = omit_counters
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 256
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def _record(self, body: dict[str, Any], headers: dict[str, str]) -> int:
        key = json.dumps(body.get("messages", [])[-1:], sort_keys=True)
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            seen = self._seen.get(key, 0)
            self._seen[key] = seen + 1
        return seen

    def _reply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        text, tool = answer(body["messages"], len(self.requests))
        if path == "/api/chat":
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if tool:
                message["tool_calls"] = [{"function": tool}]
            reply = {
                "model": body["model"],
                "created_at": "2026-11-22T00:00:00Z",
                "message": message,
                "done": True,
                "done_reason": "stop",
            }
            if not self.omit_counters:
                reply |= {
                    "total_duration": 5_000_000,
                    "load_duration": 1_000_000,
                    "prompt_eval_count": 12,
                    "prompt_eval_duration": 2_000_000,
                    "eval_count": 3,
                    "eval_duration": 1_500_000,
                }
            return reply
        message = {"role": "assistant", "content": text or None}
        if tool:
            message["tool_calls"] = [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": tool["name"], "arguments": json.dumps(tool["arguments"])},
                }
            ]
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 3,
                "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 4},
            },
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                body = json.loads(raw)
                seen = server._record(body, dict(self.headers.items()))
                fault = server.behave(body, seen) if server.behave else None
                time.sleep(fault.delay_s if fault else server.delay_s)
                if self.path not in ("/api/chat", "/v1/chat/completions"):
                    fault = Fault(404, b'{"error": "404 page not found"}')
                status = fault.status if fault else 200
                data = (
                    fault.body
                    if fault and fault.body is not None
                    else json.dumps(server._reply(self.path, body)).encode()
                )
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("x-request-id", f"req-{seen}")
                for name, value in (fault.headers if fault else {}).items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                if fault and fault.drop:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

        return Handler

    @contextmanager
    def running(self) -> Iterator[FakeModelServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
