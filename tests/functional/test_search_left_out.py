"""What the search function's artifact leaves out (`packaging.SEARCH_LEFT_OUT`: Optuna's RDB storage and
its CLI's pyyaml) is imported by none of its optimiser's paths: each sampler asks and is told rounds,
and the importances are computed, in an interpreter where those modules cannot be found and every
attempt to import one is recorded (an `except ImportError` on the way could otherwise hide it)."""

from __future__ import annotations

import json
import subprocess
import sys

from sweep_infra import packaging

# argv: the hidden modules, comma-separated; prints {sampler: trials told or the error}, and the attempts
PROBE = """
import importlib.abc, json, sys
from datetime import UTC, datetime

hidden = set(sys.argv[1].split(","))
attempts = []

class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in hidden:
            attempts.append(name)
            raise ModuleNotFoundError(f"hidden: {name}", name=name)
        return None

sys.meta_path.insert(0, Hide())
already = sorted(hidden & {m.split(".")[0] for m in sys.modules})
import optuna
import sweep_orchestrator.search.handler
from sweep_contracts.search import SearchManifest, SearchObjective, parse_search_request
from sweep_orchestrator.search.journal import TrialRecord
from sweep_orchestrator.search.optimiser import ask_round, importances

SPACE = {"x": {"uniform": [-1, 1]}, "y": {"loguniform": [0.01, 1]}, "c": {"choice": ["a", "b"]}, "n": {"randint": [1, 5]}}
FINITE = {"c": {"choice": ["a", "b", "c"]}, "n": {"randint": [1, 4]}}
results = {}
for sampler in ("tpe", "random", "grid", "cmaes", "gp"):
    request = parse_search_request({"experiment": "synthetic", "run_id": "left-out", "config": {"noise": 0.0},
        "search": {"space": FINITE if sampler == "grid" else SPACE, "sampler": sampler, "seed": 3,
                   "budget": {"trials": 24}, "batch": 4}})
    search = SearchManifest(run_id="left-out", created_at=datetime(2026, 12, 7, tzinfo=UTC), request=request,
        request_hash=request.content_hash(), objective=SearchObjective(metric="value", direction="max"))
    trials = []
    try:
        for r in range(4):  # past TPE's 4 startup trials: its model-based path too
            for number, params in ask_round(search, trials, r).items():
                value = params["n"] / 10 - (params.get("x", 0.3) - 0.3) ** 2
                failed = number % 5 == 4
                trials.append(TrialRecord(number, r, params, "fail" if failed else "complete", None if failed else value))
        results[sampler] = {"told": len(trials), "importances": sorted(importances(search, trials))}
    except Exception as exc:
        results[sampler] = {"error": type(exc).__name__, "message": getattr(exc, "message", str(exc))}
print(json.dumps({"already": already, "attempts": attempts, "results": results}))
"""


def test_no_path_of_the_optimiser_imports_what_the_search_artifact_leaves_out() -> None:
    # GIVEN an interpreter that cannot import any module the search artifact leaves out
    hidden = ",".join(packaging.SEARCH_LEFT_OUT.values())
    # WHEN it imports the search handler and Optuna, and runs four rounds of every sampler and the importances
    done = subprocess.run(
        [sys.executable, "-c", PROBE, hidden], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # THEN nothing tried to import one of them, and every sampler the artifact ships asked 16 trials
    assert (report["already"], report["attempts"]) == ([], [])
    results = report["results"]
    for sampler in ("tpe", "random", "grid"):
        assert results[sampler]["told"] == 16, (sampler, results[sampler])
        assert results[sampler]["importances"], sampler
    # AND the samplers that need what sweep never ships are refused naming that, not a hidden module
    # (`cmaes` needs the cmaes package, `gp` torch: neither is in the search artifact)
    for sampler, needs in (("cmaes", "cmaes"), ("gp", "torch and scipy")):
        refused = results[sampler] == {
            "error": "RequestError",
            "message": f"the `{sampler}` sampler needs {needs}, not installed here.",
        }
        assert refused or results[sampler].get("told") == 16, (sampler, results[sampler])
