"""Strict and consistent input (issue 8): the same refusal for a JSON body and a YAML file, each error
naming the field, the value and the limit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sweep_cli.errors import SweepFileError
from sweep_cli.files import load_sweep
from sweep_contracts.decoding import MAX_DEPTH, loads_json
from sweep_contracts.distributions import RANDINT_LIMIT, Distribution
from sweep_contracts.errors import RequestError
from sweep_contracts.names import RUN_ID_PATTERN
from sweep_contracts.request import parse_request

BASE: dict[str, Any] = {"experiment": "synthetic", "config": {"x": 1.0}}


def refusal(payload: Any) -> dict[str, Any]:
    with pytest.raises(RequestError) as info:
        parse_request(payload)
    return {"field": info.value.field, "message": info.value.message}


@pytest.mark.parametrize(
    ("field", "value"),
    [("repeats", "2"), ("repeats", True), ("repeats", 2.0), ("shard_size", "5"), ("experiment", 1), ("run_id", 123)],
)
def test_scalars_are_not_coerced_8(field: str, value: Any) -> None:
    # GIVEN a scalar of another type than the field's WHEN parsed THEN it is refused, naming the field
    assert refusal({**BASE, field: value})["field"] == field


@pytest.mark.parametrize("run_id", ["abc\n", "abc\r\n", "\nabc", "abc "])
def test_a_run_id_with_a_line_break_is_refused_8(run_id: str) -> None:
    # GIVEN a run_id that `re.match(...$)` took for valid (a trailing newline, as `run_id: |` gives)
    # WHEN parsed THEN it is refused by name, before any storage key is built from it
    assert refusal({**BASE, "run_id": run_id})["field"] == "run_id"
    assert re.fullmatch(RUN_ID_PATTERN, run_id) is None


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"uniform": [-1e308, 1e308]}, "draws nan near quantile 0: its values overflow a 64-bit float"),
        ({"normal": [0, 1e308]}, "draws -inf near quantile 0: its values overflow a 64-bit float"),
        ({"randint": [0, 10**400]}, f"bounds must lie within ±2**53 ({RANDINT_LIMIT:,})"),
        ({"randint": [-(2**53) - 1, 0]}, "bounds must lie within ±2**53"),
        ({"uniform": [0, 10**400]}, "takes two finite numbers"),
    ],
)
def test_sample_bounds_must_draw_finite_floats_8(spec: dict[str, Any], says: str) -> None:
    # GIVEN a sample whose bounds draw values a float cannot hold (they failed every shard before)
    payload = {**BASE, "sample": {"n": 3, "space": {"x": spec}}}
    # WHEN parsed THEN it is refused at submit, naming the field and the limit
    error = refusal(payload)
    assert error["field"] == "sample.space.x"
    assert says in error["message"]


def test_bounds_at_the_edge_of_the_limits_still_draw() -> None:
    dist = Distribution.model_validate({"randint": [-RANDINT_LIMIT, RANDINT_LIMIT]})
    assert -RANDINT_LIMIT <= int(dist.draw(0.999)) <= RANDINT_LIMIT  # type: ignore[arg-type]
    assert Distribution.model_validate({"uniform": [-1e307, 1e307]}).draw(0.5) == 0.0


@pytest.mark.parametrize(
    ("json_text", "yaml_text", "field"),
    [
        (
            '{"experiment": "synthetic", "config": {"x": 1, "x": 2}}',
            "experiment: synthetic\nconfig: {x: 1, x: 2}\n",
            "config.x",
        ),
        (
            '{"experiment": "synthetic", "config": {"x": 1}, "repeats": "2"}',
            'experiment: synthetic\nconfig: {x: 1}\nrepeats: "2"\n',
            "repeats",
        ),
        (
            '{"experiment": "synthetic", "config": {"x": 1}, "repeats": true}',
            "experiment: synthetic\nconfig: {x: 1}\nrepeats: true\n",
            "repeats",
        ),
        (
            '{"experiment": "synthetic", "config": {"x": 1}, "repeats": ' + "1" * 4_400 + "}",
            "experiment: synthetic\nconfig: {x: 1}\nrepeats: " + "1" * 4_400 + "\n",
            "repeats",
        ),
    ],
    ids=["duplicate-key", "string-int", "bool-int", "4400-digits"],
)
def test_json_and_yaml_are_refused_alike_8(tmp_path: Path, json_text: str, yaml_text: str, field: str) -> None:
    # GIVEN the same mistake as a JSON body and as a YAML file
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml_text)
    # WHEN each is decoded and parsed
    fields = []
    for load in (lambda: loads_json(json_text.encode()), lambda: load_sweep(str(path))):
        with pytest.raises(RequestError) as info:
            parse_request(load())
        fields.append(info.value.field)
    # THEN both are refused (the YAML duplicate names its line, the others their field)
    assert fields[0] == field
    assert fields[1] in (field, "FILE")


def test_json_nested_past_the_limit_is_refused_before_parsing() -> None:
    text = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    with pytest.raises(RequestError, match=f"more than {MAX_DEPTH} levels deep"):
        loads_json(text)
    assert loads_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"experiment": "x", "description": "[" * 100 + '\\"{' * 50})
    assert loads_json(text)["description"].startswith("[[[")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("experiment: x\nconfig: {1: a}\n", "`config`: key 1 is int, not text; quote it"),
        ("experiment: x\nconfig: {when: 2024-01-01}\n", "`config.when`: datetime.date(2024, 1, 1) is a date"),
        ("experiment: x\nconfig: {b: !!binary aGk=}\n", "`config.b`: b'hi' is a bytes"),
        ("experiment: x\nconfig: {a: [1, 2]}\n[a]: 1\n", "a list or mapping is used as a key"),
    ],
)
def test_yaml_values_json_cannot_carry_are_named(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    with pytest.raises(SweepFileError if "used as a key" in says else RequestError) as info:
        load_sweep(str(path))
    assert says in info.value.message


@pytest.mark.slow
def test_generated_run_ids_do_not_collide_within_one_second_8() -> None:
    # GIVEN 100,000 run ids generated in the same second for the longest experiment name
    from datetime import UTC, datetime

    from sweep_orchestrator.submit import new_run_id

    now = datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)
    ids = [new_run_id("an-experiment-with-a-very-long-name-" * 2, now) for _ in range(100_000)]
    # THEN they are all different and all valid run ids (16 random bits gave ~50% odds of a clash at 300)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(RUN_ID_PATTERN, run_id) for run_id in ids)
    assert new_run_id("Maze!", now).startswith("maze-20261122-010203-")
