"""sweep's Python API: `sweep.load(run_id | path)` → a pandas DataFrame of the run's points."""

from __future__ import annotations

from sweep_cli.results.load import load

__all__ = ["load"]
