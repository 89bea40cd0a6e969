"""Is the model server there, and does it serve the model? One GET before a local run dispatches
(issue 21, item 3): Ollama's `GET /api/tags`, an OpenAI-compatible server's `GET /v1/models`. A run
against a server that is down, or that lacks the model, fails in a second with the fix, instead of
after `points x attempts x timeout` of error rows.

A server that wants a key for the listing (401/403) is taken as reachable, its models unchecked:
the probe sends no secret."""

from __future__ import annotations

import json
import time
from typing import Any

from sweep_experiments.llm.http import _read_bounded, _TooLarge, clip_field

PROBE_TIMEOUT_S = 5.0
"""Connect and answer limit of the probe: a listing is instant on a server that is up."""
_PATHS = {"ollama": "/api/tags", "openai": "/v1/models"}
_HOW = {
    "ollama": "start it (`ollama serve`) or correct `endpoint`",
    "openai": "start it (e.g. `scripts/llm-server.sh start`) or correct `endpoint`",
}


class EndpointProbeError(ValueError):
    """The endpoint cannot be reached, or does not serve the config's model: `message` says which,
    `hint` what to do (the caller raises its own error with both)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message} {hint}")
        self.message = message
        self.hint = hint


def _names(protocol: str, body: Any) -> list[str] | None:
    if protocol == "ollama":
        items = body.get("models") if isinstance(body, dict) else None
        key = "name"
    else:
        items = body.get("data") if isinstance(body, dict) else None
        key = "id"
    if not isinstance(items, list):
        return None
    return [str(clip_field(item.get(key))) for item in items if isinstance(item, dict) and item.get(key)]


def _serves(protocol: str, model: str, names: list[str]) -> bool:
    if model in names:
        return True
    # Ollama names a model without a tag `name:latest`
    return protocol == "ollama" and ":" not in model and f"{model}:latest" in names


def check_served(endpoint: str, model: str, protocol: str) -> None:
    """Raise `EndpointProbeError` naming the endpoint and the fix when it is down or lacks `model`."""
    import httpx

    url = endpoint + _PATHS[protocol]
    try:
        with httpx.Client(timeout=PROBE_TIMEOUT_S) as client, client.stream("GET", url) as response:
            content = _read_bounded(response, time.monotonic() + PROBE_TIMEOUT_S)
    except (httpx.TransportError, TimeoutError, _TooLarge, ValueError) as exc:
        raise EndpointProbeError(
            f"the model server at {endpoint} cannot be reached ({type(exc).__name__} on GET {url}).",
            f"{_HOW[protocol]}, then run again.",
        ) from None
    if response.status_code in (401, 403):
        return  # it is there; the listing needs the key, which the probe does not send
    try:
        names = _names(protocol, json.loads(content)) if response.status_code == 200 else None
    except ValueError:
        names = None
    if names is None:
        raise EndpointProbeError(
            f"{endpoint} does not answer as an `{protocol}` server (GET {url}: HTTP {response.status_code}).",
            "check `endpoint` and `protocol`.",
        )
    if not _serves(protocol, model, names):
        served = ", ".join(names[:50]) or "none"
        pull = f"`ollama pull {model}`, or " if protocol == "ollama" else ""
        raise EndpointProbeError(
            f"{endpoint} does not serve the model {model!r}; it serves: {served}.",
            f"set `model` to one of them, or {pull}start a server with that model.",
        )
