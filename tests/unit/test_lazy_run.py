"""An experiment's `run` named as `"module:function"` is imported only when a point runs, so the
orchestrator validates configs without the experiment's heavy dependencies (issue 10). Uses the
sample package in examples/sample-experiment, whose run needs `cowsay` (not in sweep's lock)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweep_contracts.experiments import Registry
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.submit import submit_run
from tests.helpers import runtime_for

SAMPLE = Path(__file__).parents[2] / "examples" / "sample-experiment" / "src"


@pytest.fixture
def sample(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(SAMPLE))
    yield
    for name in [m for m in sys.modules if m.startswith("sample_experiment")]:
        del sys.modules[name]


def test_submit_validates_the_config_without_importing_the_run_module(sample: None) -> None:
    from sample_experiment import EXPERIMENT

    # GIVEN the sample experiment, whose run module needs a package that is not installed
    rt, dispatcher = runtime_for(MemoryStore())
    rt = type(rt)(**{**rt.__dict__, "registry": Registry([EXPERIMENT])})
    # WHEN a sweep is submitted
    result, _ = submit_run({"experiment": "sample", "config": {"words": 3}, "grid": {"width": [20, 40]}}, rt)
    # THEN it is validated and planned, and the run module was never imported
    assert result.points == 2
    assert dispatcher.events
    assert "sample_experiment.model" not in sys.modules
    assert "cowsay" not in sys.modules


def test_a_bad_config_is_still_refused_at_submit(sample: None) -> None:
    from sample_experiment import EXPERIMENT

    rt, _ = runtime_for(MemoryStore())
    rt = type(rt)(**{**rt.__dict__, "registry": Registry([EXPERIMENT])})
    with pytest.raises(Exception, match="words"):
        submit_run({"experiment": "sample", "config": {"words": 0}, "grid": {"width": [20]}}, rt)
    assert "sample_experiment.model" not in sys.modules


def test_running_a_point_imports_the_run_module_then(sample: None) -> None:
    from sample_experiment import EXPERIMENT

    # WHEN a point runs where the run's dependency is missing THEN the import happens now, and says what is missing
    with pytest.raises(ModuleNotFoundError, match="cowsay"):
        EXPERIMENT.evaluate(EXPERIMENT.parse_config({"words": 2}))
