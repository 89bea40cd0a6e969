"""One shard's points in this process, with what is constant over the shard computed once: a point
at a time, or a chunk at a time for an experiment with `run_batch`. Each point's row is built by
the shard's `RowBuilder` and goes to `add`; a block of a grid's points goes to `add_columns`
column-wise (`sweep_worker.columns`), never through a row per point."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from sweep_contracts.batch import ConfigBatch
from sweep_contracts.experiments import BatchAnswers, Experiment
from sweep_contracts.tasks import ShardTask
from sweep_worker.budget import PointAlarm, PointInterrupted, TimeBudget
from sweep_worker.capture import ShardCapture
from sweep_worker.point import evaluate
from sweep_worker.row import AddColumns, AddRow, RowBuilder
from sweep_worker.texts import PointTexts, ShardTexts

BATCH_POINTS = 4096
"""Most points one `run_batch` call gets. A batch's rows cost ~0.7 ms whatever its size besides
~1 µs a point (`sweep_worker.columns`): 4,096 points spread that over more than 1,024 did."""


class ShardLoop:
    """`point(index)` and `chunk(indices)` evaluate into `add`, inside `alarm` (armed once for the
    shard: `inside` is set only while the experiment runs) and `captured` (one buffer per shard)."""

    def __init__(
        self,
        task: ShardTask,
        experiment: Experiment[Any],
        budget: TimeBudget,
        build: RowBuilder,
        add: AddRow,
        alarm: PointAlarm,
        captured: ShardCapture,
        add_columns: AddColumns | None = None,
    ) -> None:
        self.texts = ShardTexts(task.point_space(), experiment.takes_seed, experiment.config_model)
        self.add_columns = add_columns
        self.experiment = experiment
        self.validate = experiment.config_model.model_validate
        self.budget = budget
        self.secrets = build.secrets
        self.build = build
        self.add = add
        self.alarm = alarm
        self.captured = captured

    def point(self, index: int, texts: PointTexts | None = None, config: BaseModel | None = None) -> None:
        """Evaluate one point; an exception it raises becomes its error. `PointInterrupted` passes through.
        `config`: its validated config, when known."""
        if texts is None:
            texts, config = self.texts.point(index)
        elif config is None:
            config = self.texts.config(index)
        validate = self.validate if config is not None else functools.partial(self._learned, index)
        alarm = self.alarm
        started = self.budget.timer()
        try:
            alarm.inside = True
            # a deadline that passed while the point was prepared found it outside (`expired`): it
            # does not start; the check comes after `inside`, so no moment is left uncovered
            if alarm.expired:
                raise PointInterrupted
            result = evaluate(self.experiment, config, texts[5], validate, self.secrets)
        finally:
            alarm.inside = False
        duration_ms = (self.budget.timer() - started) * 1000
        self.budget.record(duration_ms)
        self.add(self.build.row(index, texts, result, duration_ms, self.captured.take()))

    def _learned(self, index: int, effective: Mapping[str, Any]) -> BaseModel:
        """Point `index`'s config validated, and kept for the points after it (`ShardTexts.learn`)."""
        config: BaseModel = self.validate(effective)
        self.texts.learn(index, config)
        return config

    def chunk_size(self) -> int:
        """Points the next `run_batch` call may take: at most `BATCH_POINTS`, and as many as the
        budget left fits at the running average cost (one while nothing is known)."""
        average = self.budget.average_ms
        if average is None:
            return 1
        fits = int(self.budget.left_ms() / (1.5 * average)) if average > 0 else BATCH_POINTS
        return max(1, min(BATCH_POINTS, fits))

    def chunk(self, indices: Sequence[int]) -> None:
        """Evaluate points with one `run_batch` call, giving each the row `point` would give, but
        for duration_ms (the call's time shared equally) and the log (what the call printed is the
        first point's). A point whose config is invalid or whose metrics are not finite numbers is
        run alone by `point`, as is every point of a call that raises: each gets its own error.
        Consecutive points of a grid, all valid and all answered, become rows column-wise
        (`sweep_worker.columns`)."""
        split = self.texts.series_end(indices[0]) if isinstance(indices, range) and indices else None
        if split is not None and split < indices[-1] + 1:  # one call per series: its block can be columns
            self.chunk(range(indices[0], split))
            self.chunk(range(split, indices[-1] + 1))
            return
        found = self.texts.block(indices) if self.add_columns is not None else None
        batch = found[1].batch(found[0].configs, self.experiment.takes_seed) if found is not None else None
        prepared: list[PointTexts] | None = None
        configs: Sequence[Any]
        if batch is not None:  # every point valid; the configs are built only if run_batch asks for them
            configs = valid = batch
        else:
            prepared = [self.texts.texts(index) for index in indices]
            configs = [self._validated(index, texts[5]) for index, texts in zip(indices, prepared, strict=True)]
            valid = ConfigBatch.of([config for config in configs if config is not None])
        answers: BatchAnswers | None = None
        started = self.budget.timer()
        if valid:
            try:
                self.alarm.inside = True
                if self.alarm.expired:  # as in `point`: the deadline passed while the chunk was prepared
                    raise PointInterrupted
                answers = self.experiment.answer_batch(valid, self.secrets)
            except Exception:
                answers = None
            finally:
                self.alarm.inside = False
        duration_ms = (self.budget.timer() - started) * 1000 / max(1, len(valid))
        log = self.captured.take()
        finished_at_ms = self.build.now_ms()
        if found is not None and batch is not None and answers is not None and self.add_columns is not None:
            grid, block = found
            answered: Any = answers.columns
            if answered is None:
                answered = [m for m in answers.rows() if isinstance(m, dict)]
            if answers.columns is not None or len(answered) == len(block):
                columns = self.build.columns(grid, block, answered, duration_ms, log, finished_at_ms)
                self.budget.record(duration_ms, len(block))
                self.add_columns(len(block), columns)
                return
        results = answers.rows() if answers is not None else None
        if prepared is None:
            prepared = [self.texts.texts(index) for index in indices]
        each = iter(results or ())
        for index, texts, config in zip(indices, prepared, configs, strict=True):
            metrics = next(each) if config is not None and results is not None else None
            if not isinstance(metrics, dict):
                self.point(index, texts, config)
                continue
            self.budget.record(duration_ms)
            self.add(self.build.row(index, texts, (metrics, None, None, None, None), duration_ms, log, finished_at_ms))
            log = None

    def _validated(self, index: int, effective: dict[str, Any]) -> Any:
        known = self.texts.config(index)
        if known is not None:
            return known
        try:
            config = self.validate(effective)
        except ValidationError:
            return None
        self.texts.learn(index, config)
        return config
