"""Adaptive search requests: a `search:` block beside `grid`/`sample`, run as rounds of trials.

```yaml
experiment: synthetic
config: {noise: 0.01}
search:
  space: {x: {uniform: [-1, 1]}, y: {uniform: [-1, 1]}, kind: {choice: [a, b]}, n: {randint: [1, 9]}}
  sampler: tpe            # tpe (default), random, grid, cmaes, gp
  seed: 7
  objective: {metric: value, direction: max}   # default: the experiment's declared objective
  budget: {trials: 40}    # optionally `time_s` (no new round after it) and `cost_usd` (on a stage)
  batch: 8                # trials per round
  average_over: {task_index: [0, 1, 2]}       # nuisance axes: every trial runs all of them
repeats: 3                # and every repeat seed
```

A search is planned as rounds: round `n` is an ordinary run named `round_run_id(run_id, n)` whose
request holds one grid per trial (series `trial_series(number)`) with the trial's parameters as
one-value axes and the nuisance axes in full, so every shard task carries the full config of its
trials (nothing downstream reads trial parameters from shared state), and the rows of each trial
are its series. The search itself is recorded once, create-if-absent, at `layout.search_key`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AwareDatetime, Field, JsonValue, ValidationError, field_validator, model_validator

from sweep_contracts._json import content_hash
from sweep_contracts.base import Frozen
from sweep_contracts.distributions import Distribution
from sweep_contracts.errors import MissingConfigError, RequestError
from sweep_contracts.names import EXPERIMENT_PATTERN, check_axis_name
from sweep_contracts.request import MISSING_CONFIG_HINT, SEED, GridSpec, SweepRequest, _check_axes, check_config
from sweep_contracts.validation import problems_from

SEARCH_FIELDS = ("experiment", "run_id", "description", "config", "search", "repeats", "shard_size", "expected_point_s")
SamplerName = Literal["tpe", "random", "grid", "cmaes", "gp"]
SAMPLERS: tuple[SamplerName, ...] = ("tpe", "random", "grid", "cmaes", "gp")

MAX_TRIALS = 10_000
"""Trials of one search: trial numbers are five digits in series names."""
MAX_ROUNDS = 999
"""Rounds of one search: round numbers are three digits in round run ids."""
ROUND_SUFFIX = len("-r000")
SEARCH_RUN_ID_PATTERN = rf"^[a-z0-9][a-z0-9-]{{2,{62 - ROUND_SUFFIX}}}$"
"""A search's run id leaves room for `-r<nnn>`, so each round's run id is a run id too."""


def round_run_id(run_id: str, round_number: int) -> str:
    """The run id of round `round_number` (0-based) of search `run_id`."""
    return f"{run_id}-r{round_number:03d}"


def trial_series(number: int) -> str:
    """The series name of trial `number` (0-based) in its round's run."""
    return f"t{number:05d}"


def trial_number(series: str) -> int | None:
    """The trial number a series name carries, None if it names no trial."""
    found = re.fullmatch(r"t(\d{5})", series)
    return int(found.group(1)) if found else None


class SearchObjective(Frozen):
    """The metric a search optimises and whether more or less is better."""

    metric: str = Field(min_length=1, max_length=200, strict=True)
    direction: Literal["max", "min"] = "max"


class SearchBudget(Frozen):
    """How much a search may spend: trials always; optionally wall time and (on a stage) cost."""

    trials: int = Field(ge=1, le=MAX_TRIALS, strict=True)
    time_s: float | None = Field(default=None, gt=0, description="No new round starts after this many seconds.")
    cost_usd: float | None = Field(
        default=None, gt=0, description="On a stage: no round starts whose worst-case cost would pass this."
    )


class SearchSpec(Frozen):
    """The `search:` block: the space, the sampler and its seed, the objective, budget and batch."""

    space: dict[str, Distribution]
    sampler: SamplerName = "tpe"
    seed: int = Field(default=0, ge=0, le=2**32 - 1, strict=True)
    objective: SearchObjective | None = None
    budget: SearchBudget
    batch: int = Field(default=8, ge=1, le=1000, strict=True)
    average_over: dict[str, list[JsonValue]] = Field(default_factory=dict)

    @field_validator("space")
    @classmethod
    def _valid_space(cls, space: dict[str, Distribution]) -> dict[str, Distribution]:
        if not space:
            raise ValueError("`space` needs at least one axis, e.g. `{temperature: {uniform: [0, 1]}}`")
        for name, dist in space.items():
            check_axis_name(name, "axis")
            if name == SEED:
                raise ValueError("`seed` cannot be searched: it is a nuisance axis; use `repeats` instead")
            if dist.kind == "normal":
                raise ValueError(
                    f"axis `{name}`: `normal` is unbounded and a search needs a bounded range; "
                    "use `uniform: [low, high]` (or `loguniform`)"
                )
        return space

    @field_validator("average_over")
    @classmethod
    def _valid_average_over(cls, axes: dict[str, list[JsonValue]]) -> dict[str, list[JsonValue]]:
        if axes:
            _check_axes(axes)
        return axes

    @model_validator(mode="after")
    def _consistent(self) -> SearchSpec:
        both = sorted(set(self.space) & set(self.average_over))
        if both:
            raise ValueError(
                f"axis `{both[0]}` is both searched (`space`) and averaged over (`average_over`); keep it in one"
            )
        if self.batch > self.budget.trials:
            raise ValueError(
                f"`batch` {self.batch} is larger than the budget of {self.budget.trials} trials; "
                f"set `batch` to at most {self.budget.trials}"
            )
        if self.rounds > MAX_ROUNDS:
            raise ValueError(
                f"{self.budget.trials} trials in batches of {self.batch} take {self.rounds} rounds, over the "
                f"limit of {MAX_ROUNDS}; raise `batch` to at least {math.ceil(self.budget.trials / MAX_ROUNDS)}"
            )
        if self.sampler == "grid":
            loose = [n for n, d in self.space.items() if d.kind not in ("choice", "randint")]
            if loose:
                raise ValueError(
                    f"the `grid` sampler needs finite axes (`choice` or `randint`); axis `{loose[0]}` is "
                    f"`{self.space[loose[0]].kind}`: list its values with `choice`, or use `tpe`"
                )
        return self

    @property
    def rounds(self) -> int:
        """Rounds of the whole budget: the last may be smaller than `batch`."""
        return math.ceil(self.budget.trials / self.batch)

    def round_size(self, round_number: int) -> int:
        """Trials in round `round_number`: `batch`, the last one what the budget has left."""
        return max(0, min(self.batch, self.budget.trials - round_number * self.batch))

    def nuisance_size(self) -> int:
        """Points of one trial per repeat: the product of the `average_over` axes."""
        return math.prod(len(values) for values in self.average_over.values())


class SearchRequest(Frozen):
    """An adaptive search: an experiment, its config, the search block and the repeats per trial."""

    experiment: str = Field(pattern=EXPERIMENT_PATTERN, strict=True)
    run_id: str | None = Field(default=None, strict=True)
    description: str | None = Field(default=None, max_length=2000, strict=True)
    config: dict[str, JsonValue]
    search: SearchSpec
    repeats: int = Field(default=1, ge=1, strict=True)
    shard_size: int | None = Field(default=None, ge=1, strict=True)
    expected_point_s: float | None = Field(default=None, gt=0, le=86_400)

    @field_validator("run_id")
    @classmethod
    def _valid_run_id(cls, run_id: str | None) -> str | None:
        if run_id is not None and not re.fullmatch(SEARCH_RUN_ID_PATTERN, run_id):
            raise ValueError(
                f"run_id {run_id!r} is not valid for a search: use 3 to {63 - ROUND_SUFFIX} lowercase letters, "
                "digits and `-`, starting with a letter or digit (each round is run `<run_id>-r<nnn>`)"
            )
        return run_id

    @field_validator("config")
    @classmethod
    def _valid_config(cls, config: dict[str, JsonValue]) -> dict[str, JsonValue]:
        return check_config(config)

    @model_validator(mode="after")
    def _seed_once(self) -> SearchRequest:
        if self.repeats > 1 and SEED in self.search.average_over:
            raise ValueError("`search.average_over.seed` and `repeats` > 1 would both set the seed; drop one of them")
        return self

    @property
    def trial_points(self) -> int:
        """Points each trial evaluates: every nuisance combination, every repeat."""
        return self.search.nuisance_size() * self.repeats

    def content(self) -> dict[str, Any]:
        """What identifies the search: everything except its name and the time hint."""
        return self.model_dump(mode="json", exclude={"run_id", "expected_point_s"})

    def content_hash(self) -> str:
        return content_hash(self.content())

    def round_request(
        self, run_id: str, round_number: int, trials: Mapping[int, Mapping[str, JsonValue]]
    ) -> SweepRequest:
        """Round `round_number`'s run: one grid per trial (its parameters as one-value axes, the
        nuisance axes in full), one shard per trial unless `shard_size` says otherwise."""
        grids = [
            GridSpec(
                name=trial_series(number),
                axes={**{name: [value] for name, value in params.items()}, **self.search.average_over},
            )
            for number, params in sorted(trials.items())
        ]
        return SweepRequest(
            experiment=self.experiment,
            run_id=round_run_id(run_id, round_number),
            description=f"round {round_number + 1} of {self.search.rounds} of search {run_id}",
            config=self.config,
            grids=grids,
            repeats=self.repeats,
            shard_size=self.shard_size or self.trial_points,
            expected_point_s=self.expected_point_s,
        )


def is_search(payload: Any) -> bool:
    """Whether a decoded request asks for an adaptive search (it has a `search` block)."""
    return isinstance(payload, Mapping) and "search" in payload


def parse_search_request(data: Any) -> SearchRequest:
    """Validate a decoded search request; raise a `RequestError` naming every bad field."""
    if not isinstance(data, Mapping):
        raise RequestError(
            f"a search request is a mapping of fields; got {type(data).__name__}.",
            field="request",
            hint="send a JSON object (or a YAML mapping) with `experiment`, `config` and `search`.",
        )
    if data.get("config") is None:
        raise MissingConfigError(
            "`config` is missing; every search needs its experiment config.",
            field="config",
            value=None,
            hint=MISSING_CONFIG_HINT,
        )
    forms = [form for form in ("grid", "grids", "points", "sample") if form in data]
    if forms:
        raise RequestError(
            f"`{forms[0]}`: a search has its axes under `search.space`; it cannot also have `{forms[0]}`.",
            field=forms[0],
            value=data[forms[0]],
            hint="move the searched axes into `search.space` and the axes to average over into "
            "`search.average_over`, or drop `search` to run a fixed sweep.",
        )
    try:
        return SearchRequest.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc, SEARCH_FIELDS)
        first = problems[0]
        raise RequestError(
            f"`{first.field}`: {first.message.rstrip('.')}.",
            field=first.field,
            value=first.value,
            hint="correct the field named above (docs/search.md describes the `search:` block); "
            "`sweep plan FILE` checks a sweep file without running anything.",
            problems=problems,
        ) from exc


class SearchManifest(Frozen):
    """A search's record, written once (create-if-absent) before its first round: the request,
    the objective it resolved to, the settings its rounds are planned with."""

    run_id: str = Field(pattern=SEARCH_RUN_ID_PATTERN)
    created_at: AwareDatetime
    request: SearchRequest
    request_hash: str
    objective: SearchObjective
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    code_version: dict[str, str] = Field(default_factory=dict)

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> SearchManifest:
        return cls.model_validate_json(data)


SEARCH_STEP_KIND: Literal["search.step"] = "search.step"


class SearchStepEvent(Frozen):
    """The event that asks the search function to step one search (`rounds.advance`): sent by the
    orchestrator when a search is submitted or retried; outcomes that land send S3 notifications
    instead. It names a search and nothing else: the step reads the search's record and its rounds
    from the store, so a repeated or forged event does no more than a real one."""

    kind: Literal["search.step"] = SEARCH_STEP_KIND
    search_id: str = Field(pattern=SEARCH_RUN_ID_PATTERN)
