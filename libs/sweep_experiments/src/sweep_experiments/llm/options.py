"""Generation options of both protocols as flat config fields, so each can be a sweep axis.

Ollama takes them under `options` (top-level ones are silently ignored) and `keep_alive`,
`format`, `think` at the top level; OpenAI-compatible servers take the common ones at the top
level and anything else only through the explicit `extra` mapping. A field of the other protocol
is refused when the config is validated, at submit: an option a server would silently ignore is
a config that does not do what it says. An option left unset is not sent (the server's default
applies, and defaults differ between backends): set every option that matters.

For `ollama`, the options may also be written as Ollama's own mapping, `options: {temperature: 0.2,
num_ctx: 8192}`: each key is checked and validated exactly as its flat field (it becomes that
field), and one option given both ways is refused naming both. An axis uses the flat name."""

from __future__ import annotations

import difflib
import functools
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, TypeAdapter, ValidationError, ValidationInfo, field_validator, model_validator

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


OLLAMA_OPTIONS = (*COMMON, *OLLAMA_REQUEST, *OLLAMA_LOAD)
"""The keys of Ollama's `options` request mapping that sweep knows."""


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

    # Declared so that a refused mapping is reported as `config.options`: the model validator below
    # turns a good mapping into the flat fields and leaves a refused one here, with its reason.
    options: dict[str, JsonValue] | None = Field(
        default=None,
        exclude=True,
        description="ollama: the options as Ollama's own mapping, e.g. {temperature: 0.2, num_ctx: 8192}; "
        "each becomes its flat field (an axis uses the flat name).",
    )

    @model_validator(mode="before")
    @classmethod
    def _options_mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("options") is None:
            return data
        try:
            return _flattened(cls, data)
        except ValueError as exc:
            return {**data, "options": _Refused(str(exc))}

    @field_validator("options", mode="before")
    @classmethod
    def _options_refused(cls, value: Any) -> None:
        if isinstance(value, _Refused):
            raise ValueError(value.reason)

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


class _Refused(dict[str, Any]):
    """A refused `options` value, carrying why (a mapping, so the error text gets no `got ...`)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


def _flattened(model: type[GenerationOptions], data: dict[str, Any]) -> dict[str, Any]:
    """`data` with its `options` mapping (Ollama's request mapping) turned into the flat fields it
    names, each validated as that field; ValueError names the key and the fix."""
    options = data["options"]
    protocol = data.get("protocol", model.model_fields["protocol"].default)
    if protocol != "ollama":
        raise ValueError(
            "`options` is Ollama's request mapping; for the openai protocol set each option as a config "
            "field (e.g. temperature: 0.2) and backend extensions in `extra` (e.g. extra: {top_k: 40})"
        )
    if not isinstance(options, dict):
        raise ValueError(
            f"`options` must be a mapping of Ollama option names to values, e.g. {{temperature: 0.2}}; got {options!r}"
        )
    flat = {k: v for k, v in data.items() if k != "options"}
    for name, value in options.items():
        if name in OLLAMA_TOP:
            raise ValueError(
                f"`options.{name}` goes at the top level of Ollama's request: write `{name}: ...` as a config field"
            )
        if name == "seed":
            raise ValueError(
                "`options.seed`: the sweep sets `seed` on every point (the repeat's seed, or `seed` in config or "
                "as an axis): set it there, not in `options`"
            )
        if name not in OLLAMA_OPTIONS:
            close = difflib.get_close_matches(str(name), OLLAMA_OPTIONS, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            raise ValueError(
                f"`options.{name}` is not an Ollama option sweep knows; {hint}known: {', '.join(OLLAMA_OPTIONS)}"
            )
        if flat.get(name) is not None:
            raise ValueError(
                f"`{name}` is given twice, as `options.{name}` ({value!r}) and as the config field `{name}` "
                f"({flat[name]!r}): keep one"
            )
        try:
            flat[name] = _adapter(model, name).validate_python(value)
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]["msg"]
            raise ValueError(f"`options.{name}`: {problem[:1].lower()}{problem[1:]}; got {value!r}") from None
    return flat


@functools.cache
def _adapter(model: type[GenerationOptions], name: str) -> TypeAdapter[Any]:
    """Validates a value exactly as the field `name` of `model` does (type and bounds)."""
    field = model.model_fields[name]
    annotated: Any = Annotated[field.annotation, field]
    return TypeAdapter(annotated)
