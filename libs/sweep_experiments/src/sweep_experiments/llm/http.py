"""POST JSON to a model server with bounded, polite retries.

Retried: connection errors, 408, 429 `rate_limit_exceeded` (or any 429 that is not a quota error),
and 5xx, waiting what `retry-after-ms` / `retry-after` says, else exponential backoff with jitter.
Never retried: other 4xx (400, 404, ...) and 429 `insufficient_quota`, and a read timeout (a slow
generation is an answer about that config, not a glitch). The API key is sent in a header only
where its binding allows (`sweep_contracts.binding`: checked before each call, never along a
redirect), and redacted from every message this module produces before any cut."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sweep_contracts import binding, redaction
from sweep_contracts.experiments import EvaluationError
from sweep_experiments.llm.config import EndpointConfig

# httpx and tenacity are imported by the first call, not with the experiments: every command that
# lists or validates experiments (`sweep run` among them) imports this module, and httpx alone cost
# ~0.1 s of each (issue 13). A point that calls a model pays it once per process.
if TYPE_CHECKING:
    import httpx
    from tenacity import RetryCallState

_CLIENT_LOCK = threading.Lock()
_clients: dict[int, httpx.Client] = {}
_warm: set[Hashable] = set()


class CallError(EvaluationError):
    """A call failed for good (not retryable, or out of attempts); the row keeps `attempts`."""


class _Retryable(Exception):  # noqa: N818 - internal signal to tenacity
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class _Fatal(Exception):  # noqa: N818 - internal signal to tenacity
    pass


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


def _client() -> httpx.Client:
    import httpx

    # One pooled client per thread-pool generation is plenty; httpx.Client is thread-safe.
    with _CLIENT_LOCK:
        client = _clients.get(0)
        if client is None or client.is_closed:
            client = _clients[0] = httpx.Client(limits=httpx.Limits(max_connections=128, max_keepalive_connections=64))
        return client


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
            return min(exc.retry_after_s, cfg.max_backoff_s)
        return float(backoff(state))

    return wait


def post_json(
    cfg: EndpointConfig, path: str, body: Mapping[str, Any], api_key: str | None, warm_key: Hashable = ()
) -> Reply:
    """POST `body` to `cfg.endpoint + path`; `warm_key` names what a first call may load (model and
    load options): the first call per process for each key gets `load_timeout_s` to read."""
    import httpx
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

    url = cfg.endpoint + path
    key = (cfg.endpoint, cfg.model, warm_key)
    if cfg.api_key_required and not api_key:
        raise CallError(f"{url} needs the `api_key` secret (`api_key_required`), and none is set: {SET_KEY_HINT}")
    headers = {"content-type": "application/json", **auth_headers(cfg.api_key_header, api_key, url)}
    attempts = 0
    latency_ms = 0.0

    def once() -> Reply:
        nonlocal attempts, latency_ms
        attempts += 1
        read = cfg.timeout_s if key in _warm else cfg.load_timeout_s
        timeout = httpx.Timeout(connect=cfg.connect_timeout_s, read=read, write=cfg.timeout_s, pool=None)
        started = time.perf_counter()
        try:
            # a redirect is never followed: it would carry the key to wherever the server says
            response = _client().post(url, json=body, headers=headers, timeout=timeout, follow_redirects=False)
        except httpx.ReadTimeout as exc:
            raise _Fatal(f"{url} sent no answer within {read:g} s (read timeout); not retried") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"{url} could not be reached or broke off: {type(exc).__name__}: {exc}") from exc
        latency_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise _classify(response, url, api_key)
        try:
            parsed = response.json()
        except ValueError as exc:
            raise _Fatal(
                f"{url} answered HTTP 200 with a body that is not JSON: {clip(response.text, 200, api_key)!r}"
            ) from exc
        if not isinstance(parsed, dict):
            raise _Fatal(
                f"{url} answered HTTP 200 with JSON that is not an object: {clip(response.text, 200, api_key)!r}"
            )
        if "error" in parsed:  # a server may report a failure mid-stream with status 200 already sent
            raise _Fatal(f"{url} reported an error in its answer: {clip(str(parsed['error']), 300, api_key)}")
        _warm.add(key)
        return Reply(parsed, response.headers, attempts, latency_ms)

    retrying = Retrying(
        stop=stop_after_attempt(cfg.max_attempts),
        wait=_wait(cfg),
        retry=retry_if_exception_type(_Retryable),
        reraise=True,
    )
    try:
        return retrying(once)
    except (_Retryable, _Fatal) as exc:
        tried = f" after {attempts} attempts" if isinstance(exc, _Retryable) else ""
        raise CallError(redact(f"{exc}{tried}", api_key), {"attempts": attempts}) from None
