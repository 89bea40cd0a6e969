"""The task-set experiments (`ollama`, `openai-chat`): one point sends one task item, once, and
scores the answer. Metrics: `score`, `latency_ms`, `attempts`, `tokens_per_s` (the server's own
generation speed, absent when the server reports none: see `llm.chat`), `e2e_tokens_per_s`
(completion tokens over the call's wall time as sweep measures it: prompt evaluation, queueing
behind other calls and HTTP included), `output_chars`, `output_truncated`, plus the protocol's own
counters (absent when the server omits them). `call_json` holds `expected` and the `answer` the
scorer read (None: it found none), so every score can be checked by reading."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, JsonValue, ValidationInfo, field_validator

from sweep_contracts.experiments import Evaluation, EvaluationError
from sweep_contracts.redaction import redact
from sweep_contracts.schema import clip_output
from sweep_experiments.llm import patterns, scorers, tasks
from sweep_experiments.llm.chat import chat
from sweep_experiments.llm.options import GenerationOptions

METRICS = ("score", "latency_ms", "attempts", "tokens_per_s", "e2e_tokens_per_s", "output_chars", "output_truncated")


class TaskConfig(GenerationOptions):
    """Generation options plus which task item to send and how to score the answer."""

    task_items: list[dict[str, JsonValue]] | None = Field(default=None, description="Items of `tasks: inline`.")
    tasks_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the task set file or S3 object (hex)."
    )
    # Validated after the two fields above (pydantic validates in declaration order), so its
    # error names `tasks`; `task_index` after it, so its error names `task_index`.
    tasks: str = Field(
        default="arithmetic",
        description="`arithmetic`, `counting`, `multiple-choice` (built in), `inline` (items in `task_items`), "
        "or a JSONL file (path, file:// or s3://bucket/tasksets/...) with `tasks_sha256`.",
    )
    task_index: int = Field(default=0, ge=0, description="The item this point sends; make it an axis to cover a set.")
    template: str | None = Field(default=None, description="User message for items with `inputs` (str.format).")
    system: str | None = Field(default=None, description="System message put before every item.")
    scorer: str = Field(default="", description="Scorer name (entry point group `sweep.scorers`); default per set.")
    scorer_args: dict[str, JsonValue] = Field(
        default_factory=dict,
        validate_default=True,
        description="e.g. {tolerance: 0.01}; numeric: {extract: last | first | regex, pattern: '...(group)...'}.",
    )

    @field_validator("tasks")
    @classmethod
    def _reachable(cls, value: str, info: ValidationInfo) -> str:
        tasks.load(value, info.data.get("task_items"), info.data.get("tasks_sha256"))
        return value

    @field_validator("task_index")
    @classmethod
    def _in_set(cls, value: int, info: ValidationInfo) -> int:
        if "tasks" in info.data:
            items = tasks.load(info.data["tasks"], info.data.get("task_items"), info.data.get("tasks_sha256"))
            if value >= len(items):
                last = len(items) - 1
                raise ValueError(
                    f"`task_index` {value} is past the end of `{info.data['tasks']}` ({len(items)} items: 0..{last})"
                )
        return value

    @field_validator("scorer")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value:
            scorers.get(value)
        return value

    @field_validator("scorer_args")
    @classmethod
    def _scorer_args(cls, value: dict[str, JsonValue], info: ValidationInfo) -> dict[str, JsonValue]:
        """The built-in scorers' arguments, and patterns that compile on RE2: refused here, not as an
        error row per point."""
        data = info.data
        if "scorer" not in data or "tasks" not in data:
            return value
        name = data["scorer"] or tasks.DEFAULT_SCORER.get(data["tasks"], "exact")
        try:
            scorers.check_args(name, value)
        except ValueError as exc:
            raise ValueError(f"scorer `{name}`: {exc}") from None
        if name == "regex" and "pattern" not in value and "task_index" in data:
            items = tasks.load(data["tasks"], data.get("task_items"), data.get("tasks_sha256"))
            index = data["task_index"]
            patterns.compile_user(str(items[index].expected), f"`expected` of task item {index}")
        return value

    def scorer_name(self) -> str:
        return self.scorer or tasks.DEFAULT_SCORER.get(self.tasks, "exact")


def run_task(cfg: TaskConfig, secrets: Mapping[str, str]) -> Evaluation:
    item = tasks.load(cfg.tasks, cfg.task_items, cfg.tasks_sha256)[cfg.task_index]
    messages = item.chat_messages(cfg.template, cfg.system)
    result = chat(cfg, messages, secrets.get("api_key"))
    # redacted before the cut: a cut first could leave part of a key that the server echoed
    output, truncated = clip_output(redact(result.content, secrets))
    try:
        args = {"choices": item.choices, **cfg.scorer_args} if item.choices else cfg.scorer_args
        score = scorers.get(cfg.scorer_name())(result.content, item.expected, args)
    except Exception as exc:
        raise EvaluationError(
            f"scorer `{cfg.scorer_name()}` failed: {type(exc).__name__}: {exc}", {"attempts": result.attempts}
        ) from exc
    metrics: dict[str, float] = {
        "score": float(score),
        "latency_ms": result.latency_ms,
        "attempts": float(result.attempts),
        "output_chars": float(len(result.content)),
        "output_truncated": float(truncated),
        **result.metrics,
    }
    if result.completion_tokens is not None and result.latency_ms > 0:
        metrics["e2e_tokens_per_s"] = result.completion_tokens / (result.latency_ms / 1000)
    call: dict[str, Any] = {**result.call, "expected": item.expected, "answer": getattr(score, "answer", None)}
    return Evaluation(metrics=metrics, output=output, call=call)
