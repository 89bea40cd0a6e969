"""`sweep logs`' second half: the shards that failed as a whole (a time budget, a crash, an
interrupt) have no error row to show, so they are listed from `outcomes`, each with the point it
stopped at — the first of its points without a row — and that point's config."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

from rich.text import Text

from sweep_cli import render

if TYPE_CHECKING:
    from sweep_cli.runs import Backend
    from sweep_contracts.manifest import RunManifest


def failed_shards_sql(shard: int | None, limit: int) -> str:
    """The failed shards (their standing outcome), by shard; `shard` and `limit` are typed integers."""
    where = "status = 'failure'" + (f" AND shard_id = {int(shard)}" if shard is not None else "")
    return (
        "SELECT shard_id, attempt, error_code, error_message, points_total, points_ok, points_failed "  # noqa: S608
        f"FROM outcomes WHERE {where} ORDER BY shard_id LIMIT {int(limit)}"
    )


def _stopped_at(manifest: RunManifest | None, shard_id: int, recorded: int) -> Text:
    if manifest is None:
        return Text("")
    from sweep_contracts.points import PointSpace

    shard = manifest.plan.shard(shard_id)
    index = shard.start + recorded
    if index >= shard.stop:
        return Text("")
    space = PointSpace(manifest.request, manifest.effective_config())
    config = json.dumps(space.effective_config(space.point(index)))
    return (
        Text("\n  stopped at ")
        .append(f"point {index}", style="bold")
        .append_text(render.shown(f" (the shard's first point without a row): {config}"))
    )


def failed_shards_texts(backend: Backend, run_id: str, shard: int | None, limit: int) -> list[Text]:
    """One paragraph per failed shard: its code, the point it stopped at, and its message."""
    rows = backend.query(run_id, failed_shards_sql(shard, limit)).rows
    if not rows:
        return []
    manifest = backend.manifest(run_id)
    texts = []
    for shard_id, attempt, code, message, total, ok, failed in rows:
        head = Text(f"shard {shard_id}", style="bold").append(f" (attempt {attempt}) ")
        head.append_text(render.shown(f"{code}", "red")).append(f": {ok + failed} of {total} points have a row")
        head.append_text(_stopped_at(manifest, shard_id, ok + failed))
        head.append("\n").append_text(render.shown(textwrap.indent(message or "", "  "), lines=True))
        texts.append(head)
    return texts
