"""`sweep compare`'s answer: the shared points of two runs, and B − A paired over the same task
items (per item the mean difference over the points both runs share; over the items their mean
with a 95% paired-bootstrap interval, `intervals.paired_difference`) — two models compared on the
same items, as the per-option table of `llm_report` compares two option values."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sweep_cli.report.intervals import PairedDifference, paired_difference
from sweep_cli.results.query import QueryResult
from sweep_contracts.request import SEED


@dataclass
class Comparison(QueryResult):
    """The shared points (columns below), and B − A paired over the same task items."""

    paired: PairedDifference | None = None
    items: tuple[str, ...] = ()
    """The axes that name a task item; none: each shared point is one."""

    @property
    def verdict(self) -> str | None:
        d = self.paired
        if d is None:
            return None
        unit = f"items ({', '.join(self.items)})" if self.items else "points"
        span = f" [{d.low:+.2f}, {d.high:+.2f}]" if d.low is not None and d.high is not None else ""
        return f"b − a on the same {d.items} {unit}: {d.mean:+.2f}{span} (95% paired bootstrap over them)"


def paired(
    differences: Mapping[str, float], nuisance: Sequence[str]
) -> tuple[PairedDifference | None, tuple[str, ...]]:
    """B − A per task item (the mean over the shared points of one item) and over the items, with
    the axes that named the items. `differences` maps each shared point's params (JSON) to B − A."""
    per_item: dict[str, list[float]] = defaultdict(list)
    items: dict[str, None] = {}
    for params, difference in differences.items():
        point = json.loads(params)
        axes = [axis for axis in nuisance if axis != SEED and axis in point]
        items.update(dict.fromkeys(axes))
        per_item[json.dumps([point[axis] for axis in axes]) if axes else params].append(difference)
    means = [sum(d) / len(d) for d in per_item.values()]
    return (paired_difference(means) if means else None), tuple(items)
