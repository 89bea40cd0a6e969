"""One chat call over either protocol, reduced to what the experiments record.

Ollama (`POST /api/chat`, `stream: false`): counters come in nanoseconds and are omitted when
zero or unknown; an omitted counter is absent from the row's metrics, never 0. OpenAI
(`POST /v1/chat/completions`): `usage` (with cached and reasoning tokens when the server gives
them), `finish_reason`, `system_fingerprint` and the `x-request-id` header are recorded.

`tokens_per_s` is the server's own generation speed, where it reports one: Ollama's `eval_count`
over `eval_duration`, llama.cpp server's `timings` block (`predicted_n` over `predicted_ms`).
OpenAI itself, vLLM and llama-cpp-python report none: the metric is then absent (the experiments
record the end-to-end figure, `e2e_tokens_per_s`, for every call)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sweep_experiments.llm.http import CallError, clip_field, post_json
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
    generated_tokens: float | None = None
    generation_s: float | None = None
    """Tokens the server generated and the time it says generation took, when it says so."""


def _arguments(raw: Any) -> tuple[dict[str, Any], bool]:
    if isinstance(raw, dict):
        return raw, True
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return {}, False
    return (value, True) if isinstance(value, dict) else ({}, False)


class _Shape:
    """Checks the shape of a server's JSON as it is read, so that a wrong one is an error row naming
    the endpoint and the field, not an `AttributeError` (issue 20, item 8)."""

    def __init__(self, url: str, attempts: int) -> None:
        self.url = url
        self.attempts = attempts

    def wrong(self, field: str, kind: str, value: Any) -> CallError:
        shown = repr(value)
        shown = shown if len(shown) <= 100 else shown[:100] + "..."
        return CallError(
            f"{self.url} answered JSON of the wrong shape: `{field}` must be {kind}, got {shown}",
            {"attempts": self.attempts},
        )

    def mapping(self, value: Any, field: str, optional: bool = False) -> dict[str, Any]:
        if optional and value is None:
            return {}
        if not isinstance(value, dict):
            raise self.wrong(field, "an object", value)
        return value

    def sequence(self, value: Any, field: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.wrong(field, "a list", value)
        return value


def _tool_calls(message: Mapping[str, Any], shape: _Shape, field: str) -> list[ToolCall]:
    calls = []
    for i, item in enumerate(shape.sequence(message.get("tool_calls"), f"{field}.tool_calls")):
        raw = shape.mapping(item, f"{field}.tool_calls[{i}]")
        function = shape.mapping(raw.get("function"), f"{field}.tool_calls[{i}].function", optional=True)
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
    shape = _Shape(f"{cfg.endpoint}/api/chat", reply.attempts)
    message = shape.mapping(reply.body.get("message"), "message")
    if reply.body.get("done") is not True:  # a reply cut short (or a load answer) is no answer to score
        raise CallError(
            f"{shape.url} answered an unfinished reply (`done` is {json.dumps(reply.body.get('done'))}, "
            f"`done_reason` is {clip_field(reply.body.get('done_reason'))!r}): not scored",
            {"attempts": reply.attempts},
        )
    metrics: dict[str, float] = {}
    for name in OLLAMA_COUNTERS:
        value = _number(reply.body.get(name))
        if value is not None:
            metrics[name if name.endswith("count") else f"{name}_ns"] = value
    generated, generation_s = metrics.get("eval_count"), metrics.get("eval_duration_ns", 0) / 1e9
    if generated and generation_s:
        metrics["tokens_per_s"] = generated / generation_s
    facts = {"done_reason": clip_field(reply.body.get("done_reason")), "model": clip_field(reply.body.get("model"))}
    return ChatResult(
        content=str(message.get("content") or ""),
        tool_calls=_tool_calls(message, shape, "message"),
        message={k: v for k, v in message.items() if k in ("role", "content", "tool_calls")},
        metrics=metrics,
        call={"protocol": "ollama", "request": request, "response": facts},
        completion_tokens=metrics.get("eval_count"),
        prompt_tokens=metrics.get("prompt_eval_count"),
        latency_ms=reply.latency_ms,
        attempts=reply.attempts,
        generated_tokens=generated if "tokens_per_s" in metrics else None,
        generation_s=generation_s if "tokens_per_s" in metrics else None,
    )


def openai_chat(
    cfg: GenerationOptions, messages: Sequence[Mapping[str, Any]], api_key: str | None, tools: list[Any] | None = None
) -> ChatResult:
    request = cfg.openai_options()
    body: dict[str, Any] = {"model": cfg.model, "messages": list(messages), **request}
    if tools:
        body["tools"] = tools
    reply = post_json(cfg, "/v1/chat/completions", body, api_key)
    shape = _Shape(f"{cfg.endpoint}/v1/chat/completions", reply.attempts)
    choices = shape.sequence(reply.body.get("choices"), "choices")
    if not choices:
        raise shape.wrong("choices", "a list of at least one choice", reply.body.get("choices"))
    choice = shape.mapping(choices[0], "choices[0]")
    message = shape.mapping(choice.get("message"), "choices[0].message")
    usage = shape.mapping(reply.body.get("usage"), "usage", optional=True)
    metrics: dict[str, float] = {}
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        if (value := _number(usage.get(name))) is not None:
            metrics[name] = value
    for details, name in (
        ("prompt_tokens_details", "cached_tokens"),
        ("completion_tokens_details", "reasoning_tokens"),
    ):
        if (
            value := _number(shape.mapping(usage.get(details), f"usage.{details}", optional=True).get(name))
        ) is not None:
            metrics[name] = value
    # llama.cpp's server (not llama-cpp-python) adds `timings`; the generation part is `predicted_*`.
    timings = reply.body.get("timings")
    timings = timings if isinstance(timings, dict) else {}
    generated, generation_ms = _number(timings.get("predicted_n")), _number(timings.get("predicted_ms"))
    if generated and generation_ms and generated > 0 and generation_ms > 0:
        metrics["tokens_per_s"] = generated / generation_ms * 1000
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
        tool_calls=_tool_calls(message, shape, "choices[0].message"),
        message={k: v for k, v in message.items() if k in ("role", "content", "tool_calls") and v is not None},
        metrics=metrics,
        call={"protocol": "openai", "request": request, "response": facts},
        completion_tokens=metrics.get("completion_tokens"),
        prompt_tokens=metrics.get("prompt_tokens"),
        latency_ms=reply.latency_ms,
        attempts=reply.attempts,
        generated_tokens=generated if "tokens_per_s" in metrics else None,
        generation_s=generation_ms / 1000 if generation_ms and "tokens_per_s" in metrics else None,
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
