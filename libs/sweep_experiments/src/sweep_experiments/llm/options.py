"""Generation options of both protocols as flat config fields, so each can be a sweep axis.

Ollama takes them under `options` (top-level ones are silently ignored) and `keep_alive`,
`format`, `think` at the top level; OpenAI-compatible servers take the common ones at the top
level and anything else only through the explicit `extra` mapping. A field of the other protocol
is refused when the config is validated, at submit: an option a server would silently ignore is
a config that does not do what it says. An option left unset is not sent (the server's default
applies, and defaults differ between backends): set every option that matters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, JsonValue, ValidationInfo, field_validator

from sweep_experiments.llm.config import EndpointConfig

Protocol = Literal["ollama", "openai"]

COMMON = ("seed", "temperature", "top_p", "presence_penalty", "frequency_penalty", "stop")
OLLAMA_REQUEST = ("num_predict", "top_k", "min_p", "typical_p", "repeat_last_n", "repeat_penalty", "num_keep")
OLLAMA_LOAD = ("num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread")
"""Changing one of these makes Ollama reload the model: order such axes outermost (first in
`grid`) so points that share them are contiguous, and read `load_duration_ns` separately."""
OLLAMA_TOP = ("keep_alive", "format", "think")
OPENAI_ONLY = ("max_tokens", "max_tokens_field", "extra")
OPENAI_RESERVED = ("model", "messages", "n", "stream", "tools", "max_tokens", "max_completion_tokens", *COMMON)


class GenerationOptions(EndpointConfig):
    """Endpoint fields plus every generation option either protocol knows."""

    seed: int = Field(default=0, description="Sampling seed (best effort); repeats set it to 0..repeats-1.")
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    stop: list[str] | None = None
    num_predict: int | None = Field(default=None, ge=-2, description="ollama: tokens to generate at most.")
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0, le=1)
    typical_p: float | None = Field(default=None, ge=0, le=1)
    repeat_last_n: int | None = Field(default=None, ge=-1)
    repeat_penalty: float | None = Field(default=None, ge=0)
    num_keep: int | None = Field(default=None, ge=-1)
    num_ctx: int | None = Field(default=None, ge=1, description="ollama, load-time: context window.")
    num_batch: int | None = Field(default=None, ge=1)
    num_gpu: int | None = Field(default=None, ge=-1)
    main_gpu: int | None = Field(default=None, ge=0)
    use_mmap: bool | None = None
    num_thread: int | None = Field(default=None, ge=0)
    keep_alive: str | int | None = Field(default=None, description="ollama, top level: e.g. `5m`, `0`, `-1`.")
    format: str | dict[str, JsonValue] | None = Field(
        default=None, description="ollama, top level: `json` or a schema."
    )
    think: bool | None = Field(default=None, description="ollama, top level: thinking models only.")
    max_tokens: int | None = Field(default=None, ge=1, description="openai: completion token limit.")
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens",
        description="openai: the request field that carries `max_tokens`. OpenAI reasoning models need "
        "`max_completion_tokens`; Ollama's /v1 and llama-cpp-python ignore it and need `max_tokens`.",
    )
    extra: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="openai: backend extensions sent as they are (top_k, repeat_penalty, min_p...).",
    )

    # Last, so that its validator sees every option (pydantic validates in declaration order).
    protocol: Protocol = Field(
        default="openai", validate_default=True, description="`ollama` (/api/chat) or `openai` (/v1/chat/completions)."
    )

    @field_validator("protocol")
    @classmethod
    def _fields_of_protocol(cls, protocol: Protocol, info: ValidationInfo) -> Protocol:
        data = info.data
        if protocol == "ollama":
            wrong = [n for n in OPENAI_ONLY if data.get(n) not in (None, {}, "max_tokens")]
            if wrong:
                raise ValueError(
                    f"{', '.join(f'`{n}`' for n in wrong)} apply to the openai protocol only; "
                    "for ollama use `num_predict` and the named options"
                )
        else:
            wrong = [n for n in (*OLLAMA_REQUEST, *OLLAMA_LOAD, *OLLAMA_TOP) if data.get(n) is not None]
            if wrong:
                raise ValueError(
                    f"{', '.join(f'`{n}`' for n in wrong)} are not OpenAI chat fields and would be ignored; "
                    "pass a backend extension through `extra`, e.g. extra: {top_k: 40}"
                )
            clash = sorted(set(data.get("extra") or {}) & set(OPENAI_RESERVED))
            if clash:
                raise ValueError(f"`extra` may not set {', '.join(f'`{n}`' for n in clash)}: use the config field")
        return protocol

    def ollama_options(self) -> dict[str, Any]:
        """The request's `options`: every option that is set, and nothing else."""
        names = (*COMMON, *OLLAMA_REQUEST, *OLLAMA_LOAD)
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def ollama_top_level(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in OLLAMA_TOP if getattr(self, n) is not None}

    def load_key(self) -> tuple[Any, ...]:
        """What a first call may (re)load: the load-time options."""
        return tuple((n, getattr(self, n)) for n in OLLAMA_LOAD)

    def openai_options(self) -> dict[str, Any]:
        """The request's generation fields: the common ones that are set, the token limit under its
        chosen name, `n: 1` (repeats are a sweep axis), then `extra`."""
        fields = {n: getattr(self, n) for n in COMMON if getattr(self, n) is not None}
        if self.max_tokens is not None:
            fields[self.max_tokens_field] = self.max_tokens
        return {**fields, "n": 1, **self.extra}
