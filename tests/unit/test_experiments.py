"""The registry, submit-time config checks, and the built-in experiments' behaviour."""

from __future__ import annotations

import json
import signal
import statistics
import sys
import warnings
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from pydantic import BaseModel

from sweep_contracts.errors import ExperimentConfigError, UnknownExperimentError
from sweep_contracts.experiments import Experiment, PluginWarning, Registry
from sweep_contracts.request import parse_request
from sweep_experiments.maze import Maze, MazeConfig
from sweep_experiments.synthetic import InjectedError, SyntheticConfig

REGISTRY = Registry.default()
MAZE = REGISTRY.get("maze")


def test_builtins_are_registered_through_entry_points() -> None:
    assert {"maze", "synthetic", "ollama", "openai-chat", "llm-maze"} <= set(REGISTRY.names())


def test_an_on_demand_registry_imports_an_experiment_when_it_is_first_asked_for() -> None:
    # GIVEN a working entry point and one whose module is not installed, neither imported yet
    working = EntryPoint("synthetic", "sweep_experiments.synthetic:EXPERIMENT", "sweep.experiments")
    broken = EntryPoint("deep", "torch_not_installed_here:EXPERIMENT", "sweep.experiments")
    registry = Registry(pending=[working, broken])
    # WHEN the working one is asked for
    # THEN both are known by name, the working one loads, and the broken one is untouched
    assert registry.names() == ["deep", "synthetic"]
    assert "deep" in registry
    assert registry.get("synthetic").name == "synthetic"
    assert "deep" in registry._pending
    # AND the broken one fails only when asked for, as in an eager registry, with one warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        with pytest.raises(UnknownExperimentError) as info:
            registry.get("deep")
    assert "experiment `deep` is installed but could not be loaded" in info.value.to_dict()["message"]
    assert [w.category for w in caught] == [PluginWarning]
    assert set(registry.broken) == {"deep"}


def test_unknown_experiment_suggests_and_lists() -> None:
    with pytest.raises(UnknownExperimentError) as info:
        REGISTRY.get("maez")
    assert info.value.to_dict()["message"] == "experiment `maez` is not registered; did you mean `maze`?"
    assert "registered experiments: llm-maze, maze, ollama, openai-chat, synthetic" in str(info.value.hint)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"grid": {"strategy": ["dfs-recall", "dfs"]}},
            "grid.strategy",
            "input should be 'wall-follower', 'random-walk' or 'dfs-recall'; got 'dfs'",
        ),
        (
            {"grids": [{"name": "A", "axes": {"size": [11]}}, {"name": "B", "axes": {"size": [1000]}}]},
            "grids[1].axes.size",
            "input should be less than or equal to 301; got 1000",
        ),
        (
            {"points": [{"size": 11}, {"loops": 2.0}]},
            "points[1].loops",
            "input should be less than or equal to 1; got 2.0",
        ),
        (
            {"grid": {"speed": [1]}},
            "grid.speed",
            "`speed` is not a known field; did you mean `seed`? (known fields: size, "
            "strategy, max_moves, recall_interval, short_memory, loops, seed)",
        ),
    ],
)
def test_config_errors_point_at_the_axis_that_caused_them(form: dict[str, object], field: str, message: str) -> None:
    request = parse_request({"experiment": "maze", "config": {"size": 21}, **form})
    with pytest.raises(ExperimentConfigError) as info:
        MAZE.check_request(request)
    assert (info.value.field, info.value.problems[0].message) == (field, message)
    assert info.value.code == "INVALID_EXPERIMENT_CONFIG"


def test_config_errors_in_the_base_config_point_at_config() -> None:
    request = parse_request({"experiment": "maze", "config": {"max_moves": 0}, "grid": {"size": [5, 7]}})
    with pytest.raises(ExperimentConfigError) as info:
        MAZE.check_request(request)
    assert info.value.field == "config.max_moves"


def test_metrics_must_be_numbers() -> None:
    class Cfg(BaseModel):
        x: int = 0

    bad = Experiment(name="bad", config_model=Cfg, run=lambda cfg: {"m": "high"})
    with pytest.raises(TypeError, match="metric `m` is 'high' \\(str\\); metrics must be numbers"):
        bad.evaluate(Cfg())


def test_experiments_with_secrets_get_them() -> None:
    class Cfg(BaseModel):
        x: int = 0

    seen: dict[str, str] = {}
    exp = Experiment(name="llm", config_model=Cfg, run=lambda cfg, s: seen.update(s) or {"ok": 1}, secrets=("api_key",))
    assert exp.evaluate(Cfg(), {"api_key": "k"}) == {"ok": 1.0}
    assert seen == {"api_key": "k"}


def test_maze_is_deterministic_connected_and_perfect() -> None:
    a, b = Maze(15, seed=3), Maze(15, seed=3)
    assert a.walls_open == b.walls_open
    assert a.walls_open != Maze(15, seed=4).walls_open
    edges = sum(len(n) for n in a.neighbours) // 2
    assert edges == a.cells - 1  # a perfect maze is a spanning tree
    assert a.shortest_path() > 0


def test_maze_loops_add_edges() -> None:
    tree, loopy = Maze(21, seed=1), Maze(21, seed=1, loops=1.0)
    assert sum(map(len, loopy.neighbours)) > sum(map(len, tree.neighbours))


def run_maze(**cfg: object) -> dict[str, float]:
    return MAZE.evaluate(MAZE.parse_config({"size": 15, "max_moves": 3000, **cfg}))


def test_wall_follower_always_solves() -> None:
    assert all(run_maze(strategy="wall-follower", seed=s)["solved"] == 1.0 for s in range(15))


def test_perfect_recall_dfs_is_efficient_and_bounded() -> None:
    for seed in range(10):
        m = run_maze(strategy="dfs-recall", recall_interval=1, seed=seed)
        assert m["solved"] == 1.0
        assert m["optimal_length"] <= m["moves"] <= 2 * (15 * 15)
        assert 0 < m["efficiency"] <= 1


def test_rare_recall_costs_efficiency() -> None:
    def mean_eff(interval: int) -> float:
        runs = [run_maze(strategy="dfs-recall", recall_interval=interval, seed=s) for s in range(25)]
        return statistics.mean(m["efficiency"] for m in runs)

    assert mean_eff(1) > mean_eff(80) + 0.1


def test_random_walk_rarely_solves_large_mazes_quickly() -> None:
    m = run_maze(strategy="random-walk", size=41, max_moves=500)
    assert (m["solved"], m["moves"], m["efficiency"]) == (0.0, 500.0, 0.0)


def test_maze_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="size"):
        MazeConfig(size=1)


def test_synthetic_optimum_and_injected_failures() -> None:
    synthetic = REGISTRY.get("synthetic")
    assert synthetic.evaluate(SyntheticConfig(x=0.3, y=-0.2))["value"] == 0.0
    with pytest.raises(InjectedError):
        synthetic.evaluate(SyntheticConfig(fail_rate=1.0))


def test_numpy_metrics_are_numbers_and_nan_or_inf_make_the_point_an_error_issue12() -> None:
    import numpy as np
    from pydantic import BaseModel

    from sweep_contracts.experiments import Experiment

    class Cfg(BaseModel):
        v: float = 0.0

    # GIVEN an experiment returning numpy scalars, or a non-finite value
    exp = Experiment("np", Cfg, lambda c: {"a": np.int64(3), "b": np.float32(0.5), "c": True, "d": c.v})
    assert exp.evaluate(Cfg()) == {"a": 3.0, "b": 0.5, "c": 1.0, "d": 0.0}
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"metric `d` is (nan|inf); metrics must be finite numbers"):
            exp.evaluate(Cfg(v=bad))


def _plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str) -> EntryPoint:
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return EntryPoint(module, f"{module}:EXPERIMENT", "sweep.experiments")


def test_a_plugin_raising_keyboardinterrupt_or_exiting_on_import_is_only_its_error_issue20(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN plugins that raise KeyboardInterrupt and SystemExit themselves while imported
    interrupts = _plugin(tmp_path, monkeypatch, "interrupts_plugin", "raise KeyboardInterrupt\n")
    exits = _plugin(tmp_path, monkeypatch, "exits_plugin", "import sys\nsys.exit(3)\n")
    argv = list(sys.argv)
    registry = Registry(pending=[interrupts, exits])
    # WHEN each is asked for
    # THEN each is a warning and an unknown-experiment error, and sys.argv is as it was
    for name, error in [("interrupts_plugin", "KeyboardInterrupt: "), ("exits_plugin", r"SystemExit\(3\) while")]:
        with pytest.warns(PluginWarning, match=f"`{name}`.* failed with {error}"):
            assert registry.find(name) is None
    assert sys.argv == argv


def test_a_ctrl_c_while_a_plugin_imports_still_stops_the_command_issue20(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    # GIVEN a process that hears Ctrl-C (one started as a background job ignores it: then there is
    # nothing to test) and a plugin whose import is interrupted by a real SIGINT (the user's Ctrl-C)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    source = "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n"
    registry = Registry(pending=[_plugin(tmp_path, monkeypatch, "slow_import_plugin", source)])
    handler = signal.getsignal(signal.SIGINT)
    # WHEN it is asked for
    # THEN the interrupt reaches the caller, and the SIGINT handler is sweep's again
    with pytest.raises(KeyboardInterrupt):
        registry.get("slow_import_plugin")
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_plugin_sees_only_its_name_in_sys_argv_issue20(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a plugin that records sys.argv when imported (and then fails: it defines no experiment)
    seen = tmp_path / "argv.json"
    source = f"import json, sys\nopen({str(seen)!r}, 'w').write(json.dumps(sys.argv))\n"
    registry = Registry(pending=[_plugin(tmp_path, monkeypatch, "argv_reader", source)])
    monkeypatch.setattr(sys, "argv", ["sweep", "run", "secret-file.yaml"])
    # WHEN it is imported
    with pytest.warns(PluginWarning):
        registry.find("argv_reader")
    # THEN it saw only its own name; sweep's argv is back afterwards
    assert json.loads(seen.read_text()) == ["argv_reader"]
    assert sys.argv == ["sweep", "run", "secret-file.yaml"]


def test_maze_dead_ends_are_counted_after_loops_open_them_23() -> None:
    # GIVEN the same maze without loops and with every dead end opened
    tree, loopy = Maze(21, seed=1), Maze(21, seed=1, loops=1.0)
    # THEN dead_ends counts the cells with one opening in the maze the agent faces
    for maze in (tree, loopy):
        assert maze.dead_ends == sum(1 for bits in maze.walls_open if bits.bit_count() == 1)
    assert loopy.dead_ends < tree.dead_ends
    # AND the metric follows `loops`, as the field's text says
    assert run_maze(loops=1.0, seed=1)["dead_ends"] < run_maze(loops=0.0, seed=1)["dead_ends"]
