"""A round's trial values on a stage, from its outcomes alone: each outcome carries its points
summed per series (`Outcome.series`, written by the worker with the points), so the trigger reads
one small flat Parquet file per shard and never the zstd points (the orchestrator holds no pyarrow)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sweep_contracts.storage import ObjectStore
from sweep_orchestrator.search.journal import SeriesTotal
from sweep_orchestrator.status import OutcomeReader, read_outcomes

log = logging.getLogger("sweep.search")


class OutcomeTotals:
    """`TotalsOf` over the store's standing outcomes of a run."""

    def __init__(self, store: ObjectStore, reader: OutcomeReader | None = None) -> None:
        self.store = store
        # a warm orchestrator's outcomes read already, by key and version tag, between status polls
        self.reader = reader

    def totals(self, run_id: str, metric: str) -> Mapping[str, SeriesTotal]:
        """Per series: the objective's count and sum over the shards' tallies; points that failed,
        or gave no finite value, count as failed. An outcome that vouches for rows but carries no
        tally (written by a worker older than the tally) adds nothing: its trials fail, loudly."""
        count: dict[str, int] = {}
        total: dict[str, float] = {}
        failed: dict[str, int] = {}
        outcomes = self.reader.outcomes(run_id) if self.reader is not None else read_outcomes(self.store, run_id)
        for shard_id, outcome in sorted(outcomes.items()):
            if outcome.series is None:
                if outcome.rows_vouched:
                    log.warning("%s shard %s: its outcome has no per-series tally; its trials fail", run_id, shard_id)
                continue
            for series, tally in outcome.series.items():
                got = tally.counts.get(metric, 0)
                count[series] = count.get(series, 0) + got
                total[series] = total.get(series, 0.0) + tally.sums.get(metric, 0.0)
                failed[series] = failed.get(series, 0) + tally.failed + tally.ok - got
        return {series: SeriesTotal(count[series], total[series], failed[series]) for series in count}
