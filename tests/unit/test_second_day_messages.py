"""Messages a second day with `sweep` read wrong (issue 23, item 13): plurals, a fix that cannot
apply, a message cut mid-word, a duration in scientific notation."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from rich.console import Console

from sweep_cli import render
from sweep_cli.stage import costing
from sweep_orchestrator.cost.estimate import RunEstimate
from sweep_orchestrator.status import RunStatus, ShardFailure
from sweep_worker.budget import TimeBudget
from sweep_worker.evaluate import shard_result


def text_of(renderable: Any) -> str:
    console = Console(width=1000, record=True)
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


def stopped(points_total: int) -> str:
    task = cast(Any, SimpleNamespace(points_total=points_total, run_id="r"))
    result = shard_result(task, cast(Any, []), None, TimeBudget.fixed(5, 0))
    return result.stop_message or ""


def test_one_point_not_run_is_singular_and_a_one_point_shard_gets_no_smaller_shard_size_23() -> None:
    one = stopped(1)
    assert "1 point was not run" in one
    assert "smaller shard_size" not in one
    many = stopped(3)
    assert "3 points were not run" in many
    assert "or use a smaller shard_size" in many


def test_status_cuts_a_long_failure_message_at_a_word_with_an_ellipsis_23() -> None:
    message = "The time budget ran short " + "after many points were tried " * 20
    failure = ShardFailure(shard_id=0, attempt=1, error_code="TIME_BUDGET", error_message=message)
    now = datetime.now(UTC)
    status = RunStatus(
        run_id="r",
        experiment="synthetic",
        created_at=now,
        state="failed",
        shards_total=1,
        shards_success=0,
        shards_failure=1,
        shards_pending=0,
        points_total=1,
        points_ok=0,
        points_error=0,
        points_not_run=1,
        error_codes={"TIME_BUDGET": 1},
        missing_shards=[],
        failed_shards=[failure],
    )
    line = next(ln for ln in text_of(render.status_text(status)).splitlines() if "TIME_BUDGET:" in ln)
    shown = line.split("TIME_BUDGET: ", 1)[1].rstrip()
    assert shown.endswith("…")
    assert message.startswith(shown[:-1])
    assert message[len(shown) - 1] == " "  # the cut falls between words


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(2.2e-05, "22 µs"), (0.4, "400 ms"), (45, "45 s"), (725, "12 min 5 s"), (11520, "3 h 12 min"), (86400, "1 d")],
)
def test_durations_read_as_a_person_says_them_23(seconds: float, text: str) -> None:
    assert render.duration_text(seconds) == text


def test_the_estimate_shows_a_tiny_makespan_humanly_23() -> None:
    estimate = RunEstimate(
        shards=1,
        points=1,
        shard_s=2.2e-05,
        shard_s_source="expected_point_s",
        concurrency=1,
        memory_mb=1769,
        makespan_s=2.2e-05,
        last_start_s=0,
        max_event_age_s=21600,
        expired_shards=0,
        unbounded_shard_s=None,
        cost_usd=0,
        cost={},
    )
    shown = text_of(costing.estimate_table(estimate, "dev"))
    assert "22 µs on 1 workers" in shown
    assert "e-05" not in shown
