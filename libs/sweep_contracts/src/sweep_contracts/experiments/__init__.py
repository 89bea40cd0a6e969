"""The experiment plugin API and registry: an experiment is a name, a pydantic config model and a
function `(config) -> metrics`. Experiments register through the entry point group `sweep.experiments`:

```toml
[project.entry-points."sweep.experiments"]
my-experiment = "my_package.module:EXPERIMENT"
```

Plugins import from here; the parts live in `api` (what a plugin defines), `answers` (what its
points answered, as metrics), `checks` (a request's config against its schema) and `registry`."""

from __future__ import annotations

from sweep_contracts.errors import PluginWarning
from sweep_contracts.experiments.answers import BatchAnswers
from sweep_contracts.experiments.api import NUISANCE_AXES, Evaluation, EvaluationError, Experiment, Metrics, Objective
from sweep_contracts.experiments.registry import BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP, BrokenPlugin, Registry

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "ENTRY_POINT_GROUP",
    "NUISANCE_AXES",
    "BatchAnswers",
    "BrokenPlugin",
    "Evaluation",
    "EvaluationError",
    "Experiment",
    "Metrics",
    "Objective",
    "PluginWarning",
    "Registry",
]
