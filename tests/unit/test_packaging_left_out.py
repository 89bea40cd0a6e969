"""A function's `left_out` distributions are dropped from its exported requirements, and a name that
is not among them (stale after a dependency changed, or misspelt) stops the build."""

from __future__ import annotations

import pytest

from sweep_infra import packaging
from sweep_infra.errors import PackagingError

EXPORTED = """alembic==1.20.1
    # via optuna
mako==1.4.3
    # via alembic
MarkupSafe==3.0.4
numpy==2.5.5 ; python_full_version >= '3.12'
    # via optuna
optuna==5.0.0
pyyaml==6.0.3
sqlalchemy==2.1.9
tqdm==4.70.1
"""


def test_the_search_function_drops_optunas_storage_and_yaml_and_keeps_the_rest() -> None:
    # GIVEN the search function's exported requirements  WHEN its left-out distributions are dropped
    kept = packaging.leave_out(EXPORTED, packaging.FUNCTIONS["search"])
    names = [line.split("==")[0] for line in kept.splitlines() if line and not line.lstrip().startswith("#")]
    # THEN only what it imports is installed (a name's case does not matter)
    assert names == ["numpy", "optuna", "tqdm"]


def test_the_other_functions_leave_nothing_out() -> None:
    for name in ("orchestrator", "worker"):
        assert packaging.leave_out(EXPORTED, packaging.FUNCTIONS[name]) == EXPORTED


def test_a_left_out_name_the_export_does_not_hold_stops_the_build() -> None:
    # GIVEN an export in which Optuna no longer declares SQLAlchemy
    exported = EXPORTED.replace("sqlalchemy==2.1.9\n", "")
    # WHEN the search function's requirements are written  THEN the build stops, naming it and the fix
    with pytest.raises(PackagingError) as caught:
        packaging.leave_out(exported, packaging.FUNCTIONS["search"])
    error = caught.value
    assert (error.field, error.value) == ("search left_out", ["sqlalchemy"])
    assert "sweep_infra/packaging.py" in (error.hint or "")
