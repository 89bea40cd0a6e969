"""`ollama`: send task items to an Ollama server's `/api/chat` and score the answers.

Options go only under the request's `options` (Ollama silently ignores top-level ones);
`keep_alive`, `format` and `think` go at the top level. Option names are config fields, so an
unknown name fails at submit (Ollama itself only logs it). Load-time options (`num_ctx`,
`num_batch`, `num_gpu`, `main_gpu`, `use_mmap`, `num_thread`) make the server reload the model:
put them first in `grid` so points that share them are contiguous, and read `load_duration_ns`
apart from generation. Counters are recorded in nanoseconds as the server gives them; one the
server omits is absent from the row, not 0."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sweep_contracts.experiments import Experiment, Objective
from sweep_experiments.llm.chat import OLLAMA_COUNTERS
from sweep_experiments.llm.taskrun import METRICS, TaskConfig, run_task


class OllamaConfig(TaskConfig):
    """An Ollama endpoint, model, options and task item."""

    protocol: Literal["ollama"] = Field(
        default="ollama", validate_default=True, description="Fixed: this experiment speaks Ollama's API."
    )


EXPERIMENT = Experiment(
    name="ollama",
    config_model=OllamaConfig,
    run=run_task,
    description="Task-set items sent to Ollama /api/chat; options validated, sent and recorded exactly.",
    objective=Objective("score", "max"),
    metrics=(*METRICS, *(n if n.endswith("count") else f"{n}_ns" for n in OLLAMA_COUNTERS)),
    secrets=("api_key",),
    io_bound=True,
)
