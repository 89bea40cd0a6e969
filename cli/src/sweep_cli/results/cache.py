"""A finished run's views copied into one Parquet file each, so a reader opens two files, not one per
shard (issue 23, item 14): DuckDB read the 1,000 points files of a 100,000-point run in 3-5 s and
the one file of the same rows in 0.4 s (bench/RESULTS.md).

The copy is derived, never a source. Its key (`layout.cache_key`) names a digest of what it was
built from: the name, size and modification time of every points and outcome file of the run, and
the tables' columns. A reader lists those files again each time and uses a copy only under the
digest it computes now; anything a retry or a cleanup does writes or removes such a file, so the
digest changes and the views read the store again (and rebuild the copy). A copy is written only
when every shard of the plan has an outcome: a running run changes with each shard."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sweep_contracts import layout
from sweep_contracts.schema import OUTCOMES_TABLE, POINTS_TABLE

FORMAT = 1
"""Part of every digest: raise it when what a copy holds changes (the views' SQL)."""

Table = Literal["points", "outcomes"]
TABLES: tuple[Table, Table] = ("points", "outcomes")


@dataclass(frozen=True)
class Sources:
    """The files of one run that the views read, as listed now."""

    digest: str
    shards: frozenset[int]
    """The shards with an outcome file."""

    def path(self, root: Path, run_id: str, table: Table) -> Path:
        return root / layout.cache_key(run_id, table, self.digest)

    def copies(self, root: Path, run_id: str) -> dict[Table, Path] | None:
        """The copies built from exactly these files, or None if either is missing."""
        paths = {table: self.path(root, run_id, table) for table in TABLES}
        return paths if all(p.is_file() for p in paths.values()) else None


def _entries(folder: Path, prefix: str) -> list[tuple[str, int, int]]:
    """(name under the run's prefix, size, mtime in ns) of each `*.parquet` file in `folder`."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".parquet") and entry.is_file():
                    info = entry.stat()
                    found.append((prefix + entry.name, info.st_size, info.st_mtime_ns))
    except FileNotFoundError:
        pass
    return found


def sources(root: Path, run_id: str) -> Sources:
    """List the run's points and outcome files (one directory read each) and digest them."""
    files = _entries(root / layout.points_prefix(run_id), "points/")
    outcomes: list[tuple[str, int, int]] = []
    for status in ("success", "failure"):
        outcomes += _entries(root / layout.outcomes_prefix(run_id) / f"status={status}", f"{status}/")
    digest = hashlib.sha256()
    digest.update(f"{FORMAT}\n{POINTS_TABLE.column_names}\n{OUTCOMES_TABLE.column_names}\n".encode())
    for name, size, mtime in sorted([*files, *outcomes]):
        digest.update(f"{name}\t{size}\t{mtime}\n".encode())
    parsed = (layout.parse_outcome_key(f"{layout.outcomes_prefix(run_id)}status={name}") for name, _, _ in outcomes)
    return Sources(digest.hexdigest()[:32], frozenset(found[2] for found in parsed if found is not None))


def remove_others(root: Path, run_id: str, keep: Sources) -> None:
    """Delete the run's copies built from other files than `keep`'s (they can never be used again)."""
    folder = root / layout.cache_prefix(run_id)
    kept = {keep.path(root, run_id, table).name for table in TABLES}
    for path in folder.glob("*.parquet"):
        if path.name not in kept:
            path.unlink(missing_ok=True)
