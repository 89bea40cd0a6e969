"""One chat call over either protocol, reduced to what the experiments record.

Ollama (`POST /api/chat`, `stream: false`): counters come in nanoseconds and are omitted when
zero or unknown; an omitted counter is absent from the row's metrics, never 0. OpenAI
(`POST /v1/chat/completions`): `usage` (with cached and reasoning tokens when the server gives
them), `finish_reason`, `system_fingerprint` and the `x-request-id` header are recorded."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sweep_experiments.llm.http import clip_field, post_json
from sweep_experiments.llm.options import GenerationOptions

OLLAMA_COUNTERS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model asked for; `ok` is False when its arguments were not a JSON object."""

    name: str
    arguments: dict[str, Any]
    ok: bool = True
    id: str | None = None


@dataclass
class ChatResult:
    """The reply's text and tool calls, the assistant message to append to a transcript, numeric
    metrics (only those the server gave), and the call's facts for the `call_json` column."""

    content: str
    tool_calls: list[ToolCall]
    message: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    call: dict[str, Any] = field(default_factory=dict)
    completion_tokens: float | None = None
    prompt_tokens: float | None = None
    latency_ms: float = 0.0
    attempts: int = 1


def _arguments(raw: Any) -> tuple[dict[str, Any], bool]:
    if isinstance(raw, dict):
        return raw, True
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}, False
    return (value, True) if isinstance(value, dict) else ({}, False)


def _tool_calls(message: Mapping[str, Any]) -> list[ToolCall]:
    calls = []
    for raw in message.get("tool_calls") or []:
        function = raw.get("function") or {}
        args, ok = _arguments(function.get("arguments", {}))
        calls.append(ToolCall(str(function.get("name", "")), args, ok, raw.get("id")))
    return calls


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def ollama_chat(
    cfg: GenerationOptions, messages: Sequence[Mapping[str, Any]], api_key: str | None, tools: list[Any] | None = None
) -> ChatResult:
    request = {"options": cfg.ollama_options(), **cfg.ollama_top_level()}
    body = {"model": cfg.model, "messages": list(messages), "stream": False, **request}
    if tools:
        body["tools"] = tools
    reply = post_json(cfg, "/api/chat", body, api_key, warm_key=cfg.load_key())
    message = reply.body.get("message")
    if not isinstance(message, dict):
        raise ValueError(f"{cfg.endpoint}/api/chat answered without a `message` object: {str(reply.body)[:200]}")
    metrics: dict[str, float] = {}
    for name in OLLAMA_COUNTERS:
        value = _number(reply.body.get(name))
        if value is not None:
            metrics[name if name.endswith("count") else f"{name}_ns"] = value
    if metrics.get("eval_count") and metrics.get("eval_duration_ns"):
        metrics["server_tokens_per_s"] = metrics["eval_count"] / metrics["eval_duration_ns"] * 1e9
    facts = {"done_reason": clip_field(reply.body.get("done_reason")), "model": clip_field(reply.body.get("model"))}
    return ChatResult(
        content=str(message.get("content") or ""),
        tool_calls=_tool_calls(message),
        message={k: v for k, v in message.items() if k in ("role", "content", "tool_calls")},
        metrics=metrics,
        call={"protocol": "ollama", "request": request, "response": facts},
        completion_tokens=metrics.get("eval_count"),
        prompt_tokens=metrics.get("prompt_eval_count"),
        latency_ms=reply.latency_ms,
        attempts=reply.attempts,
    )


def openai_chat(
    cfg: GenerationOptions, messages: Sequence[Mapping[str, Any]], api_key: str | None, tools: list[Any] | None = None
) -> ChatResult:
    request = cfg.openai_options()
    body: dict[str, Any] = {"model": cfg.model, "messages": list(messages), **request}
    if tools:
        body["tools"] = tools
    reply = post_json(cfg, "/v1/chat/completions", body, api_key)
    choices = reply.body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0].get("message"), dict):
        raise ValueError(
            f"{cfg.endpoint}/v1/chat/completions answered without `choices[0].message`: {str(reply.body)[:200]}"
        )
    choice, message = choices[0], choices[0]["message"]
    usage = reply.body.get("usage") or {}
    metrics: dict[str, float] = {}
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        if (value := _number(usage.get(name))) is not None:
            metrics[name] = value
    for details, name in (
        ("prompt_tokens_details", "cached_tokens"),
        ("completion_tokens_details", "reasoning_tokens"),
    ):
        if (value := _number((usage.get(details) or {}).get(name))) is not None:
            metrics[name] = value
    finish = choice.get("finish_reason")
    metrics["finish_length"] = float(finish == "length")
    if cfg.max_tokens is not None and "completion_tokens" in metrics:
        # A server that ignores the chosen limit field generates past it: flag the row.
        metrics["over_limit"] = float(metrics["completion_tokens"] > cfg.max_tokens)
    facts = {
        "finish_reason": clip_field(finish),
        "system_fingerprint": clip_field(reply.body.get("system_fingerprint")),
        "request_id": clip_field(reply.headers.get("x-request-id")),
        "model": clip_field(reply.body.get("model")),
    }
    return ChatResult(
        content=str(message.get("content") or ""),
        tool_calls=_tool_calls(message),
        message={k: v for k, v in message.items() if k in ("role", "content", "tool_calls") and v is not None},
        metrics=metrics,
        call={"protocol": "openai", "request": request, "response": facts},
        completion_tokens=metrics.get("completion_tokens"),
        prompt_tokens=metrics.get("prompt_tokens"),
        latency_ms=reply.latency_ms,
        attempts=reply.attempts,
    )


def chat(
    cfg: GenerationOptions, messages: Sequence[Mapping[str, Any]], api_key: str | None, tools: list[Any] | None = None
) -> ChatResult:
    call = ollama_chat if cfg.protocol == "ollama" else openai_chat
    return call(cfg, messages, api_key, tools)


def tool_message(cfg: GenerationOptions, call: ToolCall, text: str) -> dict[str, Any]:
    """The transcript message that answers a tool call, in the protocol's shape."""
    if cfg.protocol == "ollama":
        return {"role": "tool", "content": text, "tool_name": call.name}
    return {"role": "tool", "content": text, "tool_call_id": call.id or call.name}
