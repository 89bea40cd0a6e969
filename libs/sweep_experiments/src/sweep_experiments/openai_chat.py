"""`openai-chat`: send task items to an OpenAI-compatible `/v1/chat/completions` (OpenAI, vLLM,
llama.cpp server, LM Studio, Ollama's `/v1`) and score the answers.

`n` is always 1 (repeats are a sweep axis); `seed` is best effort, so `system_fingerprint` is
recorded. The token limit goes under `max_tokens_field` (`max_tokens` or
`max_completion_tokens`): a row whose `completion_tokens` exceeds the limit gets `over_limit` 1,
the sign of a server that ignored the field. Backend extensions go through `extra`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sweep_contracts.experiments import Experiment, Objective
from sweep_experiments.llm.taskrun import METRICS, TaskConfig, run_task


class OpenAIChatConfig(TaskConfig):
    """An OpenAI-compatible endpoint, model, options and task item."""

    protocol: Literal["openai"] = Field(
        default="openai", validate_default=True, description="Fixed: this experiment speaks the OpenAI API."
    )


EXPERIMENT = Experiment(
    name="openai-chat",
    config_model=OpenAIChatConfig,
    run=run_task,
    description="Task-set items sent to /v1/chat/completions; usage, finish reason and fingerprint recorded.",
    objective=Objective("score", "max"),
    metrics=(
        *METRICS,
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cached_tokens",
        "reasoning_tokens",
        "finish_length",
        "over_limit",
    ),
    secrets=("api_key",),
    io_bound=True,
)
