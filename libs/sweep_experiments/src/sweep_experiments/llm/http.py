"""POST JSON to a model server with bounded, polite retries.

Retried: connection errors, 408, 429 `rate_limit_exceeded` (or any 429 that is not a quota error),
and 5xx, waiting what `retry-after-ms` / `retry-after` says, else exponential backoff with jitter.
Never retried: other 4xx (400, 404, ...) and 429 `insufficient_quota`, and a read timeout (a slow
generation is an answer about that config, not a glitch). The API key is sent in a header only
where its binding allows (`sweep_contracts.binding`: checked before each call, never along a
redirect), and redacted from every message this module produces before any cut.

Everything a server sends is bounded (issue 20, item 5): the body is streamed and refused past
`MAX_RESPONSE_BYTES`, counted both on the wire and after decompression; each call (connect,
headers and body) ends by its deadline, `timeout_s` (`load_timeout_s` for a process's first call
per model) or the end of the shard's time budget, whichever comes first; text fields a row keeps
are cut by `clip_field`. Clients live in the shard's scope (`sweep_contracts.scope`), one per
endpoint, and are closed when the shard ends, so nothing a shard starts outlives it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sweep_contracts import binding, redaction, scope
from sweep_contracts.experiments import EvaluationError
from sweep_experiments.llm.config import EndpointConfig

# httpx and tenacity are imported by the first call, not with the experiments: every command that
# lists or validates experiments (`sweep run` among them) imports this module, and httpx alone cost
# ~0.1 s of each (issue 13). A point that calls a model pays it once per process.
if TYPE_CHECKING:
    import httpx
    from tenacity import RetryCallState

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
"""The longest answer read, in bytes, both as sent (compressed or not) and after decompression.
A chat answer is kilobytes (rows keep 16,384 characters of output); past this, the answer is an
error row naming the limit, and at most this much is ever held per call (a gzip bomb stops here)."""
MAX_FIELD_CHARS = 256
"""The longest server-given text field (`model`, `finish_reason`, `system_fingerprint`, a request
id...) kept in a row's `call_json`; longer values are cut, saying how long they were."""
_READ_CHUNK = 64 * 1024
"""Decompressed bytes produced per step: the cap is checked between steps, so one step is all that
can pass it."""

_CLIENT_LOCK = threading.Lock()
_clients: dict[str, httpx.Client] = {}
_warm: set[Hashable] = set()


class CallError(EvaluationError):
    """A call failed for good (not retryable, or out of attempts); the row keeps `attempts`."""


class _Retryable(Exception):  # noqa: N818 - internal signal to tenacity
    unreachable = False  # the try could not connect at all

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class _Fatal(Exception):  # noqa: N818 - internal signal to tenacity
    unreachable = False


class _Breaker:
    """Consecutive calls of one shard to one endpoint that could not connect (issue 21, item 3):
    past the config's `stop_after_connect_failures`, the shard's other calls there fail at once, so
    a dead server costs seconds, not points x attempts x timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failures = 0

    def record(self, unreachable: bool) -> None:
        with self._lock:
            self.failures = self.failures + 1 if unreachable else 0

    def is_open(self, limit: int) -> bool:
        return 0 < limit <= self.failures

    def close(self) -> None:
        """Nothing to release: a breaker lives and dies with its shard's scope."""


def _breaker(endpoint: str) -> _Breaker | None:
    current = scope.current()
    return current.resource(("breaker", endpoint), _Breaker) if current is not None else None


@dataclass(frozen=True)
class Reply:
    """A successful call: parsed JSON body, response headers, tries used, and the last try's wall time."""

    body: dict[str, Any]
    headers: Mapping[str, str]
    attempts: int
    latency_ms: float


SET_KEY_HINT = (
    "locally, set SWEEP_SECRET_API_KEY in the environment of `sweep run`; on a stage, "
    "`sweep params set-secret --stage <stage> api_key`"
)


def redact(text: str, key: str | None) -> str:
    """`text` without the key, nor a part of it that a cut left at an edge."""
    return redaction.redact(text, {"api_key": key}, "***") if key else text


def clip(text: str, limit: int, key: str | None) -> str:
    """Redact, then cut: a cut first could leave a prefix of the key for redaction to miss."""
    return redact(text, key)[:limit]


def auth_headers(header: str, key: str | None, url: str | None = None) -> dict[str, str]:
    """The auth header for `key`, when its binding lets it go to `url` in `header`."""
    if not key:
        return {}
    if url is not None:
        import httpx

        # the origin as httpx will connect to it: a URL two parsers read differently cannot pass
        target = httpx.URL(url)
        origin = binding.origin(target.scheme, target.host, target.port) if target.host else url
        if (reason := binding.refusal(key, origin, header)) is not None:
            raise CallError(f"{reason}; no call was made", {"attempts": 0})
    return {header: f"Bearer {key}" if header.lower() == "authorization" else key}


def clip_field(value: Any) -> Any:
    """A server-given value as a row keeps it: a number as it is, anything else as text of at most
    `MAX_FIELD_CHARS` (a longer one is cut, saying how long it was)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_FIELD_CHARS:
        return f"{text[:MAX_FIELD_CHARS]}... (cut: {len(text):,} characters, over the limit of {MAX_FIELD_CHARS})"
    return value


def _new_client() -> httpx.Client:
    import httpx

    # Connections are reused within a shard (its points call one endpoint); `pool` waits are bounded
    # by each call's own deadline (see `once`), never unbounded.
    return httpx.Client(limits=httpx.Limits(max_connections=128, max_keepalive_connections=64))


def _client(endpoint: str) -> httpx.Client:
    """The shard's client for `endpoint`, closed when the shard ends; outside a shard (a script),
    one per endpoint for the process. httpx.Client is thread-safe."""
    current = scope.current()
    if current is not None:
        return current.resource(("httpx", endpoint), _new_client)
    with _CLIENT_LOCK:
        client = _clients.get(endpoint)
        if client is None or client.is_closed:
            client = _clients[endpoint] = _new_client()
        return client


class _TooLarge(Exception):  # noqa: N818 - internal signal
    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


class _Watchdog:
    """Ends a call at its deadline by shutting its socket down from a timer thread.

    httpx's timeouts apply per read, so a server that trickles a byte at a time (headers or body)
    never trips them; shutting the socket down wakes the blocked read at once. The socket is
    taken from httpcore's documented `trace` extension when the connection is opened, and from
    the response's `network_stream` extension when a pooled connection is reused."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.adopt(info.get("return_value"))

    def adopt(self, stream: Any) -> None:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._socket = sock
                if self.fired:
                    self._shutdown()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):  # already closed: the call has ended on its own
                self._socket.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


class _Decoder:
    """Decompresses a body with a bound on its output. httpx's decoders have none (one 64 KiB read
    of a gzip bomb inflates to ~64 MiB at once), so this uses zlib with `max_length` directly."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        else:  # we send `accept-encoding: gzip, deflate`; anything else is not ours to decode
            raise ValueError(f"content-encoding {encoding!r}, which was not asked for")
        self._first = True

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            yield data
            return
        while data:
            try:
                out = self._zlib.decompress(data, _READ_CHUNK)
            except zlib.error:
                if not self._first:
                    raise
                # `deflate` is often sent raw, without zlib's header (as httpx's own decoder allows)
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._zlib.decompress(data, _READ_CHUNK)
            self._first = False
            data = self._zlib.unconsumed_tail
            yield out

    def finish(self) -> bytes:
        # all input is consumed: what inflate still holds is at most one block's tail
        return self._zlib.flush() if self._zlib is not None else b""


def _read_bounded(response: httpx.Response, deadline: float) -> bytes:
    """The body, decompressed; `_TooLarge` past `MAX_RESPONSE_BYTES`, `TimeoutError` past `deadline`."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise _TooLarge(f"declared {int(declared):,} bytes")
    decoder = _Decoder(response.headers.get("content-encoding", ""))
    body = bytearray()
    wire = 0
    for raw in response.iter_raw():
        wire += len(raw)
        if wire > MAX_RESPONSE_BYTES:
            raise _TooLarge("as sent")
        for part in decoder.decode(raw):
            body += part
            if len(body) > MAX_RESPONSE_BYTES:
                raise _TooLarge("after decompression")
        if time.monotonic() > deadline:
            raise TimeoutError
    body += decoder.finish()
    if len(body) > MAX_RESPONSE_BYTES:
        raise _TooLarge("after decompression")
    return bytes(body)


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` (milliseconds, OpenAI) or `retry-after` (seconds); None if absent or a date."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is not None:
            try:
                return max(0.0, float(raw) / scale)
            except ValueError:
                continue
    return None


def _error_text(response: httpx.Response, key: str | None) -> tuple[str, str]:
    """The server's error message and code from `{"error": "..."}` (Ollama) or `{"error": {...}}` (OpenAI)."""
    try:
        body = response.json()
    except ValueError:
        return clip(response.text, 300, key), ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = clip(str(error.get("code") or error.get("type") or ""), 300, key)
        return clip(str(error.get("message", error)), 300, key), code
    return clip(str(error if error is not None else body), 300, key), ""


def _classify(response: httpx.Response, url: str, key: str | None) -> Exception:
    message, code = _error_text(response, key)
    text = f"{url} answered HTTP {response.status_code}: {message}"
    status = response.status_code
    if status in (401, 403):
        sent = "the `api_key` secret was refused" if key else "no `api_key` secret is set, so none was sent"
        return _Fatal(f"{text} ({sent}: {SET_KEY_HINT})")
    if 300 <= status < 400 and "location" in response.headers:  # never followed: say where it pointed
        text += (
            f"{'; ' if message else ''}a redirect to {clip_field(response.headers['location'])} (not followed: "
            "set `endpoint` to the address the server answers at)"
        )
    if status == 429 and code == "insufficient_quota":
        return _Fatal(f"{text} (insufficient_quota: not retried; add credit or use another key)")
    if status in (408, 429) or status >= 500:
        return _Retryable(text, retry_after_s(response.headers))
    return _Fatal(text)


def _wait(cfg: EndpointConfig) -> Any:
    from tenacity import wait_exponential_jitter

    backoff = wait_exponential_jitter(multiplier=cfg.backoff_s, max=cfg.max_backoff_s, jitter=cfg.backoff_s)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after_s is not None:
            seconds = min(exc.retry_after_s, cfg.max_backoff_s)
        else:
            seconds = float(backoff(state))
        # never sleep past the shard's deadline: the next try would have no time anyway
        current = scope.current()
        left = current.left_s() if current is not None else None
        return seconds if left is None else max(0.0, min(seconds, left))

    return wait


def _stop(cfg: EndpointConfig, breaker: _Breaker | None) -> Any:
    """Stop after `max_attempts`, when the shard's deadline leaves no time for another try, or when
    the shard has stopped calling the endpoint."""
    from tenacity import stop_after_attempt

    attempts = stop_after_attempt(cfg.max_attempts)

    def stop(state: RetryCallState) -> bool:
        current = scope.current()
        left = current.left_s() if current is not None else None
        tripped = breaker is not None and breaker.is_open(cfg.stop_after_connect_failures)
        return bool(attempts(state)) or (left is not None and left <= 0) or tripped

    return stop


def _exchange(
    cfg: EndpointConfig, url: str, body: Mapping[str, Any], headers: Mapping[str, str], limit: float, field: str
) -> httpx.Response:
    """One try: the answer, its body read within the bounds (decoded; its headers say so), by
    `limit` seconds (the config's `field`) or the shard's deadline, whichever comes first."""
    import httpx

    current = scope.current()
    shard_left = current.left_s() if current is not None else None
    if shard_left is not None and shard_left < limit:
        limit, field = max(shard_left, 0.0), "shard"
    deadline = time.monotonic() + limit
    timeout = httpx.Timeout(connect=min(cfg.connect_timeout_s, limit), read=limit, write=limit, pool=limit)
    watchdog = _Watchdog(limit)
    received = False
    try:
        client = _client(cfg.endpoint)
        request = client.build_request(
            "POST", url, json=body, headers=headers, timeout=timeout, extensions={"trace": watchdog.trace}
        )
        # a redirect is never followed: it would carry the key to wherever the server says
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            received = True
            watchdog.adopt(response.extensions.get("network_stream"))
            content = _read_bounded(response, deadline)
        finally:
            response.close()
    except _TooLarge as exc:
        raise _Fatal(
            f"{url} sent an answer over the limit of {MAX_RESPONSE_BYTES:,} bytes ({exc.where}; "
            "sweep_experiments.llm.http.MAX_RESPONSE_BYTES); not read further, not retried"
        ) from None
    except ValueError as exc:  # a content-encoding we did not ask for
        raise _Fatal(f"{url} sent an answer that cannot be decoded: {exc}; not retried") from None
    except (httpx.TransportError, TimeoutError, zlib.error) as exc:
        failed: _Fatal | _Retryable
        if watchdog.fired or time.monotonic() >= deadline or isinstance(exc, httpx.TimeoutException):
            failed = _Fatal(_late(url, limit, field, received))
        elif isinstance(exc, zlib.error):
            failed = _Fatal(f"{url} sent a compressed answer that does not decompress: {exc}; not retried")
        else:
            failed = _Retryable(f"{url} could not be reached or broke off: {type(exc).__name__}: {exc}")
        failed.unreachable = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        raise failed from exc
    finally:
        watchdog.cancel()
    return httpx.Response(response.status_code, headers=_plain(response.headers), content=content)


def _parse(response: httpx.Response, url: str, key: str | None) -> dict[str, Any]:
    if response.status_code != 200:
        raise _classify(response, url, key)
    try:
        parsed = response.json()
    except ValueError as exc:
        raise _Fatal(
            f"{url} answered HTTP 200 with a body that is not JSON: {clip(response.text, 200, key)!r}"
        ) from exc
    if not isinstance(parsed, dict):
        raise _Fatal(f"{url} answered HTTP 200 with JSON that is not an object: {clip(response.text, 200, key)!r}")
    if "error" in parsed:  # a server may report a failure mid-stream with status 200 already sent
        raise _Fatal(f"{url} reported an error in its answer: {clip(str(parsed['error']), 300, key)}")
    return parsed


def post_json(
    cfg: EndpointConfig, path: str, body: Mapping[str, Any], api_key: str | None, warm_key: Hashable = ()
) -> Reply:
    """POST `body` to `cfg.endpoint + path`; `warm_key` names what a first call may load (model and
    load options): the first call per process for each key gets `load_timeout_s` instead of
    `timeout_s`. Each try ends by then (connect, headers and body) or by the shard's deadline."""
    from tenacity import Retrying, retry_if_exception_type

    url = cfg.endpoint + path
    key = (cfg.endpoint, cfg.model, warm_key)
    if cfg.api_key_required and not api_key:
        raise CallError(f"{url} needs the `api_key` secret (`api_key_required`), and none is set: {SET_KEY_HINT}")
    headers = {
        "content-type": "application/json",
        "accept-encoding": "gzip, deflate",  # what `_Decoder` can bound
        **auth_headers(cfg.api_key_header, api_key, url),
    }
    attempts = 0
    latency_ms = 0.0
    breaker = _breaker(cfg.endpoint)
    if breaker is not None and breaker.is_open(cfg.stop_after_connect_failures):
        raise CallError(_not_called(url, cfg), {"attempts": 0})

    def once() -> Reply:
        nonlocal attempts, latency_ms
        attempts += 1
        limit, field = (cfg.timeout_s, "timeout_s") if key in _warm else (cfg.load_timeout_s, "load_timeout_s")
        started = time.perf_counter()
        response = _exchange(cfg, url, body, headers, limit, field)
        latency_ms = (time.perf_counter() - started) * 1000
        parsed = _parse(response, url, api_key)
        _warm.add(key)
        return Reply(parsed, response.headers, attempts, latency_ms)

    retrying = Retrying(
        stop=_stop(cfg, breaker),
        wait=_wait(cfg),
        retry=retry_if_exception_type(_Retryable),
        reraise=True,
    )
    try:
        reply = retrying(once)
    except (_Retryable, _Fatal) as exc:
        if breaker is not None:
            breaker.record(exc.unreachable)
        tried = f" after {attempts} attempts" if isinstance(exc, _Retryable) else ""
        raise CallError(redact(f"{exc}{tried}", api_key), {"attempts": attempts}) from None
    if breaker is not None:
        breaker.record(False)
    return reply


def _not_called(url: str, cfg: EndpointConfig) -> str:
    n = cfg.stop_after_connect_failures
    return (
        f"{url} was not called: the shard's last {n} calls to {cfg.endpoint} could not connect "
        f"(`stop_after_connect_failures`: {n}). Start the server or correct `endpoint`, then `sweep retry` the run"
    )


def _plain(headers: httpx.Headers) -> httpx.Headers:
    """The headers of a body already decoded and measured: a second decoding would be wrong."""
    import httpx

    return httpx.Headers([(k, v) for k, v in headers.multi_items() if k not in ("content-encoding", "content-length")])


def _late(url: str, seconds: float, field: str, received: bool) -> str:
    if field == "shard":
        return f"{url} had not answered when the shard's time budget ran out ({seconds:.3g} s left for this call)"
    if not received:
        return f"{url} sent no answer within {seconds:g} s (`{field}`, the limit of one call); not retried"
    return (
        f"{url} did not finish its answer within {seconds:g} s (`{field}`, the limit of one call from connect "
        "to the last byte); not retried"
    )
