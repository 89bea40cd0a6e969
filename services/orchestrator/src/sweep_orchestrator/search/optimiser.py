"""The optimiser: an Optuna study rebuilt from the journal's trials, asked for the next round.

Nothing of the study outlives a step: each round starts a fresh in-memory study, adds every
finished trial once (`add_trial`, its objective or its failure), and asks the round's trials of a
sampler seeded from (search seed, round number). So a round's trials are a function of the seed
and the results before it alone: a resumed search, a redeployed orchestrator, or two triggers of
one round ask the same trials.

The `grid` sampler finds the grid points it has visited through each trial's `grid_id` system
attribute (Optuna's `GridSampler`, not its public API): the rebuilt trials get it from their
parameters; `tests/unit/test_search_optimiser.py` holds that this keeps a grid search from
revisiting a point."""

from __future__ import annotations

import hashlib
import importlib
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from sweep_contracts.distributions import Distribution
from sweep_contracts.errors import RequestError
from sweep_contracts.search import SearchManifest, SearchSpec
from sweep_orchestrator.search.journal import TrialRecord

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

# The samplers that need packages besides Optuna. Optuna imports them once the sampler samples from told
# trials (round 1 on; round 0 is sampled at random), not when it is built: `sampler` imports them first,
# else a search ran its first round and then failed with a ModuleNotFoundError (a traceback locally,
# INTERNAL from the search function), not its RequestError.
SAMPLER_MODULES = {"cmaes": ("cmaes",), "gp": ("torch", "scipy")}


def sampler_needs(name: str) -> str:
    """What a message names for sampler `name`'s packages: `torch and scipy`."""
    return " and ".join(SAMPLER_MODULES.get(name, ("a package",)))


def ensure_optuna() -> None:
    """Import Optuna on first use, with its info logging off (sweep prints its own progress)."""
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - the CLI installs it
        raise RequestError(
            "adaptive search needs Optuna, which is not installed here.",
            field="search",
            hint="install the orchestrator's `search` extra: `pip install 'sweepkit-orchestrator[search]'`.",
        ) from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def distribution(dist: Distribution) -> BaseDistribution:
    """The Optuna distribution of a sweep distribution (`normal` is refused by `SearchSpec`)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    low, high = (*dist.args, None, None)[:2]
    if dist.kind == "choice":
        return CategoricalDistribution(list(dist.args))  # type: ignore[arg-type]
    if dist.kind == "randint":
        return IntDistribution(int(low), int(high))  # type: ignore[arg-type]
    return FloatDistribution(float(low), float(high), log=dist.kind == "loguniform")  # type: ignore[arg-type]


def distributions(spec: SearchSpec) -> dict[str, BaseDistribution]:
    return {name: distribution(dist) for name, dist in spec.space.items()}


def round_seed(seed: int, round_number: int) -> int:
    """The sampler's seed in round `round_number`: a pure function of the search seed and the round."""
    digest = hashlib.blake2b(f"{seed}:{round_number}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def _grid_space(spec: SearchSpec) -> dict[str, list[Any]]:
    space: dict[str, list[Any]] = {}
    for name, dist in spec.space.items():
        if dist.kind == "choice":
            space[name] = list(dist.args)
        else:
            space[name] = list(range(int(dist.args[0]), int(dist.args[1]) + 1))  # type: ignore[arg-type]
    return space


def sampler(spec: SearchSpec, round_number: int) -> optuna.samplers.BaseSampler:
    ensure_optuna()
    import optuna

    seed = round_seed(spec.seed, round_number)
    try:
        for module in SAMPLER_MODULES.get(spec.sampler, ()):
            importlib.import_module(module)
        if spec.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(spec.batch, 1)))
        if spec.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if spec.sampler == "grid":  # one order of the grid for the whole search: the search's seed
            return optuna.samplers.GridSampler(_grid_space(spec), seed=spec.seed)
        if spec.sampler == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        return optuna.samplers.GPSampler(seed=seed)
    except ImportError as exc:
        needs = sampler_needs(spec.sampler)
        raise RequestError(
            f"the `{spec.sampler}` sampler needs {needs}, not installed here.",
            field="search.sampler",
            value=spec.sampler,
            hint=f"install {needs}, or use `sampler: tpe`.",
        ) from exc


def _system_attrs(chosen: optuna.samplers.BaseSampler, params: Mapping[str, JsonValue]) -> dict[str, Any]:
    """What `GridSampler` reads to know a trial visited a grid point: the point's place in its
    (seeded, shuffled) grid and the grid's space."""
    import optuna

    if not isinstance(chosen, optuna.samplers.GridSampler):
        return {}
    names: list[str] = chosen._param_names
    key = tuple(params.get(n) for n in names)
    grids: list[tuple[Any, ...]] = chosen._all_grids
    return {"grid_id": grids.index(key), "search_space": chosen._search_space} if key in grids else {}


def rebuild(search: SearchManifest, trials: Sequence[TrialRecord], round_number: int) -> optuna.Study:
    """A fresh study told every finished trial once, with the sampler of `round_number`."""
    ensure_optuna()
    import optuna

    spec = search.request.search
    direction = optuna.study.StudyDirection
    chosen = sampler(spec, round_number)
    study = optuna.create_study(
        direction=direction.MAXIMIZE if search.objective.direction == "max" else direction.MINIMIZE, sampler=chosen
    )
    dists = distributions(spec)
    state = optuna.trial.TrialState
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state == "running":
            continue
        complete = trial.state == "complete" and trial.value is not None and math.isfinite(trial.value)
        study.add_trial(
            optuna.trial.create_trial(
                state=state.COMPLETE if complete else state.FAIL,
                value=trial.value if complete else None,
                params=dict(trial.params),
                distributions={name: dists[name] for name in trial.params if name in dists},
                system_attrs=_system_attrs(chosen, trial.params),
                user_attrs={"round": trial.round, "number": trial.number},
            )
        )
    return study


def ask_round(
    search: SearchManifest, trials: Sequence[TrialRecord], round_number: int
) -> dict[int, dict[str, JsonValue]]:
    """Round `round_number`'s trials, numbered after those before it."""
    spec = search.request.search
    study = rebuild(search, trials, round_number)
    dists = distributions(spec)
    first = round_number * spec.batch
    asked: dict[int, dict[str, JsonValue]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature and independent-sampling notes
        for i in range(spec.round_size(round_number)):
            trial = study.ask(dists)
            asked[first + i] = {name: _plain(trial.params[name]) for name in spec.space}
    return asked


def _plain(value: Any) -> JsonValue:
    """A parameter as JSON: numpy scalars (some samplers return them) become Python numbers."""
    if hasattr(value, "item"):
        value = value.item()
    return value  # type: ignore[no-any-return]


def importances(search: SearchManifest, trials: Sequence[TrialRecord]) -> dict[str, float]:
    """Each parameter's importance to the objective over the complete trials (Optuna's PED-ANOVA
    evaluator: numpy only, where fANOVA needs scikit-learn; normalised to sum to 1); empty when
    fewer than two are complete or nothing varies."""
    complete = [t for t in trials if t.state == "complete"]
    if len(complete) < 2 or len(search.request.search.space) < 1:
        return {}
    ensure_optuna()
    import optuna

    study = rebuild(search, complete, 0)
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = optuna.importance.get_param_importances(study, evaluator=evaluator)
        except (RuntimeError, ValueError):  # e.g. every trial has the same value
            return {}
    return {name: float(value) for name, value in found.items()}
