"""The test dispatcher's event list (`sweep_orchestrator.dispatch.TaskEvents`) reads like a list of
task dicts, while it keeps each task as the JSON text a dispatcher sends and parses it once, on its
first read."""

from __future__ import annotations

import json

from sweep_orchestrator.dispatch import TaskEvents


def filled(*events: dict[str, object]) -> TaskEvents:
    found = TaskEvents()
    for event in events:
        found.add_json(json.dumps(event))
    return found


def test_the_events_read_as_the_dicts_they_were_sent_as() -> None:
    # GIVEN three tasks kept as JSON text
    events = filled({"shard_id": 0}, {"shard_id": 1}, {"shard_id": 2})
    # THEN they index, slice, iterate and compare as a list of dicts
    assert len(events) == 3
    assert events[-1] == {"shard_id": 2}
    assert events[1:] == [{"shard_id": 1}, {"shard_id": 2}]
    assert [e["shard_id"] for e in events] == [0, 1, 2]
    assert events == [{"shard_id": 0}, {"shard_id": 1}, {"shard_id": 2}]
    assert events != [{"shard_id": 0}]
    assert TaskEvents() == []


def test_an_event_is_parsed_once_so_a_change_to_it_stays() -> None:
    # GIVEN a task read once and changed, as a test forging a task does
    events = filled({"shard_id": 0, "config": {"y": 1}})
    events[0]["config"]["y"] = 2
    # THEN the next read sees the change: the same dict, not a fresh parse
    assert events[0]["config"] == {"y": 2}
    assert events[0] is events[0]


def test_it_clears_and_takes_dicts_too() -> None:
    events = filled({"shard_id": 0})
    events.append({"shard_id": 1})
    assert events == [{"shard_id": 0}, {"shard_id": 1}]
    events.clear()
    assert events == []
    assert not events
