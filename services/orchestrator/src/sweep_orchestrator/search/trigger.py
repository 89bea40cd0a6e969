"""The stage's trigger of a search's next round: an outcome landed under a round's run.

Meant for S3 event notifications on the `outcomes/` prefix (at-least-once: one outcome may be
announced twice, and a round's last two outcomes may land at once, so two triggers may run
together). Each trigger only calls `rounds.advance`, which starts the next round when the last
one is done; a round's run id and request are functions of the search and the rows before it,
and its manifest is created only if absent, so however many triggers run, a round starts once.

On a stage the reader of a round is `sweep_orchestrator.search.totals.OutcomeTotals` (the
outcomes' per-series tallies: the orchestrator's package holds no pyarrow), and the search
function's handler takes the S3 event (`sweep_orchestrator.search.handler`; the bucket
notification is `sweep_infra.stack`'s). The event is trusted with nothing: its keys only say which
searches to look at, and each step reads the store and starts a round only when the store says
the last one is done, so a forged or repeated event does no more than a real one."""

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


def is_s3_event(event: Mapping[str, Any]) -> bool:
    """Whether `event` is an S3 event notification (every record from `aws:s3`)."""
    records = event.get("Records")
    return (
        bool(records)
        and isinstance(records, list)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
    )


def event_keys(event: Mapping[str, Any], bucket: str | None = None, prefix: str = "") -> list[str]:
    """The object keys an S3 event notification names (URL-encoded in the event); given `bucket`
    and `prefix` (a store's), only keys of that bucket under that prefix, relative to it."""
    keys = []
    for record in event.get("Records") or ():
        s3 = (record or {}).get("s3") or {}
        key = (s3.get("object") or {}).get("key")
        if bucket is not None and (s3.get("bucket") or {}).get("name") != bucket:
            continue
        if isinstance(key, str) and (key := unquote_plus(key)).startswith(prefix):
            keys.append(key.removeprefix(prefix))
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
