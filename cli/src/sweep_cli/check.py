"""The invariant checker behind `sweep status RUN_ID --check`: does what a run left in its store
tell the truth? It reads the objects themselves (not the status summary) and recomputes every
point from the manifest's request with the same point-space code the worker uses.

Invariants, one violation kind each:
- every shard of the plan has exactly one outcome (`missing_outcome`, `two_outcomes`);
- no outcome or points object outside the plan or the layout (`stray_object`);
- the rows an outcome vouches for exist and their counts equal its counts, and the counts in its
  points key's name (which status adds up) equal them too (`count_mismatch`);
- each row belongs to its shard's index range (`wrong_shard`), no index twice (`duplicate_point`);
- every row's config is the request's config overlaid with that point (`config_mismatch`).

Points files that no standing outcome names (a losing duplicate's, a killed worker's) are inside
the layout and ignored by every reader: they are counted, not reported as violations."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import pyarrow.parquet as pq

from sweep_contracts import layout
from sweep_contracts._json import canonical_json, param_text
from sweep_contracts.manifest import RunManifest
from sweep_contracts.outcomes import Outcome
from sweep_contracts.points import PointSpace
from sweep_contracts.storage import ObjectStore

if TYPE_CHECKING:
    from sweep_cli.runs import Backend

ViolationKind = Literal[
    "missing_outcome",
    "two_outcomes",
    "stray_object",
    "unreadable",
    "count_mismatch",
    "wrong_shard",
    "duplicate_point",
    "config_mismatch",
]
LISTED = 20
"""Most violations of one kind a report lists by name; the counts are complete."""


@dataclass(frozen=True)
class Violation:
    """One broken invariant: what kind, where (a shard, a key, a point), and what was found."""

    kind: ViolationKind
    where: str
    detail: str

    def line(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


@dataclass
class CheckReport:
    """The checker's verdict on one run."""

    run_id: str
    shards: int
    points: int
    rows_checked: int = 0
    orphan_files: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def counts(self) -> dict[str, int]:
        return dict(Counter(v.kind for v in self.violations))

    def lines(self) -> list[str]:
        """One line per violation (at most `LISTED` per kind, then how many more)."""
        shown: Counter[str] = Counter()
        out = []
        for violation in self.violations:
            shown[violation.kind] += 1
            if shown[violation.kind] <= LISTED:
                out.append(violation.line())
        out += [f"{kind}: … and {n - LISTED} more" for kind, n in self.counts().items() if n > LISTED]
        return out


def _outcomes(store: ObjectStore, manifest: RunManifest, report: CheckReport) -> dict[int, list[str]]:
    """Outcome keys by shard; strays reported."""
    by_shard: dict[int, list[str]] = {}
    for key in store.list(layout.outcomes_prefix(manifest.run_id)):
        parsed = layout.parse_outcome_key(key)
        if parsed is None or parsed[0] != manifest.run_id or not 0 <= parsed[2] < manifest.plan.shard_count:
            report.violations.append(Violation("stray_object", key, "not an outcome key of a shard in the plan"))
            continue
        by_shard.setdefault(parsed[2], []).append(key)
    return by_shard


def _points_files(store: ObjectStore, manifest: RunManifest, report: CheckReport) -> set[str]:
    found = set()
    for key in store.list(layout.points_prefix(manifest.run_id)):
        parsed = layout.parse_points_key(key)
        if parsed is None or parsed[0] != manifest.run_id or not 0 <= parsed[1] < manifest.plan.shard_count:
            report.violations.append(Violation("stray_object", key, "not a points key of a shard in the plan"))
            continue
        found.add(key)
    return found


def _standing(store: ObjectStore, run_id: str, shard_id: int, keys: list[str], report: CheckReport) -> Outcome | None:
    where = f"shard {shard_id}"
    if len(keys) > 1:
        report.violations.append(Violation("two_outcomes", where, "both " + " and ".join(sorted(keys))))
    # readers resolve two outcomes the same way: the success wins
    key = min(keys, key=lambda k: 0 if "/status=success/" in k else 1)
    data = store.get(key)
    if data is None:
        report.violations.append(Violation("missing_outcome", where, f"{key} was listed but cannot be read"))
        return None
    try:
        return Outcome.from_parquet(data, run_id)
    except Exception as exc:  # a damaged object is a finding, not a crash of the checker
        report.violations.append(Violation("unreadable", key, f"{type(exc).__name__}: {exc}"))
        return None


def _check_rows(
    store: ObjectStore, manifest: RunManifest, space: PointSpace, outcome: Outcome, seen: set[int], report: CheckReport
) -> None:
    where = f"shard {outcome.shard_id}"
    key = outcome.points_key
    if key is None:
        return
    data = store.get(key)
    if data is None:
        detail = f"the outcome vouches for {outcome.rows_vouched} rows in {key}, which does not exist"
        report.violations.append(Violation("count_mismatch", where, detail))
        return
    try:
        rows = pq.read_table(io.BytesIO(data)).to_pylist()
    except Exception as exc:  # a damaged object is a finding, not a crash of the checker
        report.violations.append(Violation("unreadable", key, f"{type(exc).__name__}: {exc}"))
        return
    ok = sum(1 for r in rows if r["status"] == "ok")
    if (ok, len(rows) - ok) != (outcome.points_ok, outcome.points_failed):
        detail = (
            f"the outcome says {outcome.points_ok} ok + {outcome.points_failed} error, "
            f"{key} holds {ok} ok + {len(rows) - ok} error"
        )
        report.violations.append(Violation("count_mismatch", where, detail))
    named = layout.tag_counts(outcome.execution) if outcome.execution else None
    if named is not None and named != (ok, len(rows) - ok):  # status adds up the counts in key names
        detail = f"the key says {named[0]} ok + {named[1]} error, {key} holds {ok} ok + {len(rows) - ok} error"
        report.violations.append(Violation("count_mismatch", where, detail))
    shard = manifest.plan.shard(outcome.shard_id)
    for row in rows:
        report.rows_checked += 1
        index = row["point_index"]
        if not shard.start <= index < shard.stop or row["shard_id"] != outcome.shard_id:
            detail = f"point {index} (shard_id {row['shard_id']}) is outside {shard.start}..{shard.stop - 1}"
            report.violations.append(Violation("wrong_shard", where, detail))
            continue
        if index in seen:
            report.violations.append(Violation("duplicate_point", f"point {index}", f"a second row in {key}"))
        seen.add(index)
        report.violations.extend(_config_problems(space, index, row, key))


def _config_problems(space: PointSpace, index: int, row: dict[str, object], key: str) -> Iterator[Violation]:
    point = space.point(index)
    expected = canonical_json(space.effective_config(point))
    if row["config_json"] != expected:
        yield Violation("config_mismatch", f"point {index}", f"{key} has {row['config_json']}, expected {expected}")
    params = dict(row["params"]) if isinstance(row["params"], list) else {}
    if params != {k: param_text(v) for k, v in point.params.items()}:
        yield Violation("config_mismatch", f"point {index}", f"params {json.dumps(params)} in {key}")


def check_run(store: ObjectStore, manifest: RunManifest) -> CheckReport:
    """Check every invariant of `manifest`'s run against the objects in `store`."""
    plan = manifest.plan
    report = CheckReport(manifest.run_id, plan.shard_count, plan.points_total)
    space = PointSpace(manifest.request, manifest.request.config)
    outcome_keys = _outcomes(store, manifest, report)
    files = _points_files(store, manifest, report)
    seen: set[int] = set()
    vouched: set[str] = set()
    for shard_id in range(plan.shard_count):
        keys = outcome_keys.get(shard_id)
        if not keys:
            report.violations.append(Violation("missing_outcome", f"shard {shard_id}", "no outcome"))
            continue
        outcome = _standing(store, manifest.run_id, shard_id, keys, report)
        if outcome is None:
            continue
        if outcome.points_total != plan.shard(shard_id).size:
            detail = f"the outcome says {outcome.points_total} points, the plan {plan.shard(shard_id).size}"
            report.violations.append(Violation("count_mismatch", f"shard {shard_id}", detail))
        if outcome.points_key:
            vouched.add(outcome.points_key)
        _check_rows(store, manifest, space, outcome, seen, report)
    report.orphan_files = len(files - vouched)
    return report


def check_command(run_id: str, store: ObjectStore, as_json: bool) -> int:
    """`sweep status RUN_ID --check`: print the verdict, one line per violation; the exit code."""
    from sweep_cli import render
    from sweep_orchestrator.runs import load_manifest

    report = check_run(store, load_manifest(store, run_id))
    if as_json:
        print(json.dumps({"run_id": run_id, "ok": report.ok, "violations": report.counts(), "lines": report.lines()}))
    else:
        for line in report.lines():
            render.out.print(render.shown(line))
        verdict = "ok" if report.ok else f"{len(report.violations)} violations"
        render.out.print(
            f"check {run_id}: {verdict} ({report.shards} shards, {report.rows_checked} rows checked, "
            f"{report.orphan_files} unvouched points files ignored)",
            markup=False,
            highlight=False,
        )
    return 0 if report.ok else 1


def store_of(backend: Backend) -> ObjectStore:
    """Where the backend's runs live: the results directory, or the stage's results bucket read
    with the caller's own credentials."""
    from sweep_cli.local.backend import LocalBackend

    if isinstance(backend, LocalBackend):
        return backend.store
    import boto3

    from sweep_aws.s3 import S3Store
    from sweep_cli.stage.backend import StageBackend

    assert isinstance(backend, StageBackend)
    stage = backend.stage
    return S3Store(stage.need("results_bucket"), client=boto3.client("s3", region_name=stage.region))
