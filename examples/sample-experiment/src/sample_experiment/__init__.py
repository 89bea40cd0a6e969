"""A user's experiment: the config model and the registration import nothing heavy, so sweep's
orchestrator validates a sweep's config without this package's runtime dependencies; `run` names
its function as a string, imported by the worker when a point runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sweep_contracts.experiments import Experiment, Objective


class SampleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    words: int = Field(default=5, ge=1, le=1000, description="Words the cow says.")
    width: int = Field(default=40, ge=10, le=200, description="Speech bubble width.")
    seed: int = 0


EXPERIMENT = Experiment(
    name="sample",
    config_model=SampleConfig,
    run="sample_experiment.model:run",
    description="A speech bubble's size for a number of words (needs `cowsay` only when it runs).",
    objective=Objective("lines", "min"),
)
