"""The stage's trigger of a search's next round: an outcome landed under a round's run.

Meant for S3 event notifications on the `outcomes/` prefix (at-least-once: one outcome may be
announced twice, and a round's last two outcomes may land at once, so two triggers may run
together). Each trigger only calls `rounds.advance`, which starts the next round when the last
one is done; a round's run id and request are functions of the search and the rows before it,
and its manifest is created only if absent, so however many triggers run, a round starts once.

On a stage the reader of a round is `sweep_orchestrator.search.totals.OutcomeTotals` (the
outcomes' per-series tallies: the orchestrator holds no pyarrow). Not wired to a Lambda yet."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from sweep_contracts import layout
from sweep_contracts.search import SearchManifest
from sweep_orchestrator.runtime import Runtime
from sweep_orchestrator.search.journal import Reader
from sweep_orchestrator.search.rounds import Step, advance

_ROUND = re.compile(r"^(?P<search>[a-z0-9][a-z0-9-]{2,57})-r(?P<round>\d{3})$")


def event_keys(event: Mapping[str, Any]) -> list[str]:
    """The object keys an S3 event notification names (URL-encoded in the event)."""
    keys = []
    for record in event.get("Records") or ():
        key = (((record or {}).get("s3") or {}).get("object") or {}).get("key")
        if isinstance(key, str):
            keys.append(unquote_plus(key))
    return keys


def searches_of(keys: Iterable[str]) -> list[str]:
    """The searches whose rounds the outcome keys belong to, once each, in order."""
    found: dict[str, None] = {}
    for key in keys:
        parsed = layout.parse_outcome_key(key)
        if parsed is None:
            continue
        matched = _ROUND.fullmatch(parsed[0])
        if matched:
            found[matched.group("search")] = None
    return list(found)


def on_outcomes(rt: Runtime, keys: Iterable[str], rows_of: Reader) -> dict[str, Step]:
    """Advance every search an outcome of the event belongs to; a run that only looks like a
    round (no search record) is left alone."""
    steps: dict[str, Step] = {}
    for run_id in searches_of(keys):
        data = rt.store.get(layout.search_key(run_id))
        if data is None:
            continue
        steps[run_id] = advance(rt, SearchManifest.from_json(data), rows_of)
    return steps
