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
SERVED = ("m", "qwen2.5:7b", "smollm2")
"""The models the fake lists (GET /api/tags, /v1/models): those the tests and examples name. It
answers chat calls for any model."""


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

    def __init__(
        self,
        behave: Behave | None = None,
        delay_s: float = 0.0,
        omit_counters: bool = False,
        upstream: str | None = None,
        models: tuple[str, ...] = SERVED,
    ) -> None:
        self.models = models
        self.behave = behave
        self.upstream = upstream
        self.delay_s = delay_s
        self.omit_counters = omit_counters
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        # the listen backlog is set before `listen`: assigned after the constructor, it stayed 5, and a
        # burst of new connections (a shard opening `concurrency` of them) could be reset
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(), bind_and_activate=False)
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 256
        self._httpd.server_bind()
        self._httpd.server_activate()
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
        if self.upstream and path == "/api/chat":
            return ollama_over_openai(self.upstream, body)
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

            def do_GET(self) -> None:
                if self.path == "/api/tags":
                    listing: dict[str, Any] = {"models": [{"name": m, "model": m} for m in server.models]}
                elif self.path == "/v1/models":
                    listing = {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(listing).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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


# Ollama option -> field of llama-cpp-python's /v1/chat/completions (its extensions included).
_TO_OPENAI = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "stop": "stop",
    "num_predict": "max_tokens",
    "top_k": "top_k",
    "min_p": "min_p",
    "typical_p": "typical_p",
    "repeat_penalty": "repeat_penalty",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def ollama_over_openai(upstream: str, body: dict[str, Any]) -> dict[str, Any]:
    """Answer an Ollama /api/chat request with a real model behind an OpenAI-compatible server.
    Load-time options (num_ctx...) cannot apply to an already loaded model and are dropped;
    the durations Ollama measures server-side are unknown here, so they are omitted."""
    import httpx

    messages = []
    for original in body["messages"]:
        m = dict(original)
        if m.get("role") == "tool":
            m = {"role": "tool", "content": m["content"], "tool_call_id": m.get("tool_name", "call")}
        for call in m.get("tool_calls") or []:
            call.setdefault("type", "function")
            call.setdefault("id", "call")
            if isinstance(call["function"].get("arguments"), dict):
                call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
        messages.append(m)
    request = {"model": body["model"], "messages": messages}
    request |= {_TO_OPENAI[k]: v for k, v in (body.get("options") or {}).items() if k in _TO_OPENAI}
    if body.get("tools"):
        request["tools"] = body["tools"]
    started = time.perf_counter_ns()
    answer = httpx.post(upstream + "/v1/chat/completions", json=request, timeout=300).json()
    choice, usage = answer["choices"][0], answer.get("usage") or {}
    message = {"role": "assistant", "content": choice["message"].get("content") or ""}
    if choice["message"].get("tool_calls"):
        message["tool_calls"] = [
            {"function": {"name": c["function"]["name"], "arguments": _json_or_text(c["function"].get("arguments"))}}
            for c in choice["message"]["tool_calls"]
        ]
    return {
        "model": body["model"],
        "message": message,
        "done": True,
        "done_reason": choice.get("finish_reason"),
        "total_duration": time.perf_counter_ns() - started,
        "prompt_eval_count": usage.get("prompt_tokens"),
        "eval_count": usage.get("completion_tokens"),
    }


def _json_or_text(raw: Any) -> Any:
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw


if __name__ == "__main__":  # `python -m tests.llm_fake DELAY_S`: serve in its own process (benchmarks)
    import sys

    server = FakeModelServer(delay_s=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
    print(server.url, flush=True)
    server._httpd.serve_forever()
