"""Names that collide (issue 20 item 13): parameter names that differ from sweep's own columns only
by case are refused at plan time (DuckDB and Athena identifiers ignore case, so `Status` read the
`status` column); a metric so named is a point error, its neighbours kept; a run id with `..` is
one paragraph, exit 2, never a traceback; and `--out` is a directory, never a glob pattern."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel

import sweep
from sweep_contracts.errors import RequestError, RunNotFoundError
from sweep_contracts.experiments import Experiment
from sweep_contracts.request import parse_request
from sweep_contracts.schema import RESERVED_NAMES
from tests.functional.test_bad_input_cli import assert_clear_refusal, run_cli
from tests.functional.test_batch_experiments import RUN, rows
from tests.helpers import tasks_for

RESERVED_LIST = ", ".join(RESERVED_NAMES)


def test_the_reserved_names_are_the_columns_of_points_and_what_load_adds() -> None:
    assert RESERVED_NAMES == (
        "run_id",
        "shard_id",
        "point_index",
        "series",
        "repeat",
        "params",
        "metrics",
        "status",
        "error_type",
        "error_message",
        "duration_ms",
        "config_json",
        "finished_at",
        "output",
        "call_json",
        "traceback",
        "log",
        "execution",
        "config",
    )


@pytest.mark.parametrize(
    ("form", "field", "name"),
    [
        ({"grid": {"Status": [1, 2]}}, "grid.Status", "Status"),
        (
            {"grids": [{"name": "a", "axes": {"x": [1]}}, {"name": "b", "axes": {"RUN_ID": [1]}}]},
            "grids[1].axes.RUN_ID",
            "RUN_ID",
        ),
        ({"points": [{"x": 1}, {"x": 2, "Point_Index": 3}]}, "points[1].Point_Index", "Point_Index"),
        ({"sample": {"n": 2, "space": {"CONFIG": {"uniform": [0, 1]}}}}, "sample.space.CONFIG", "CONFIG"),
        ({"grid": {"status": [1]}}, "grid.status", "status"),
    ],
)
def test_a_parameter_named_like_a_column_is_refused_at_plan_time_issue20(
    form: dict[str, Any], field: str, name: str
) -> None:
    # WHEN a sweep names a parameter like one of sweep's own columns, in any case
    with pytest.raises(RequestError) as caught:
        parse_request({"experiment": "synthetic", "config": {"y": 1}, **form})
    # THEN one error names the parameter, the column it collides with and the reserved list
    error = caught.value.to_dict()
    column = name.lower()
    assert error == {
        "code": "INVALID_REQUEST",
        "message": f"`{field}`: parameter `{name}` is named like sweep's own column `{column}` (names are "
        "compared ignoring case, as DuckDB and Athena compare them).",
        "field": field,
        "value": name,
        "hint": f"rename the parameter (e.g. `{name}_`); reserved names: {RESERVED_LIST}.",
    }


def test_two_parameters_differing_only_by_case_are_refused_issue20() -> None:
    with pytest.raises(RequestError) as caught:
        parse_request(
            {
                "experiment": "synthetic",
                "config": {"y": 1},
                "grids": [{"name": "a", "axes": {"lr": [1]}}, {"name": "b", "axes": {"LR": [2]}}],
            }
        )
    assert caught.value.field == "grids[1].axes.LR"
    assert caught.value.message == (
        "`grids[1].axes.LR`: parameters `lr` and `LR` differ only by case; their columns would be one "
        "(names are compared ignoring case, as DuckDB and Athena compare them)."
    )


def test_sweep_plan_refuses_it_in_one_paragraph_issue20(tmp_path: Path) -> None:
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text("experiment: synthetic\nconfig: {y: 1}\ngrid: {Status: [1, 2], x: [0.5]}\n")
    result = run_cli("plan", str(sweep_file))
    assert result.returncode == 2, result.stdout + result.stderr
    assert_clear_refusal(result.returncode, result.stdout + result.stderr, "Status")
    assert "parameter `Status` is named like sweep's own column `status`" in result.stderr


class Plain(BaseModel):
    a: float
    b: float = 0.0
    seed: int = 0


def named_metrics(cfg: Plain) -> dict[str, float]:
    # point a=1 returns a metric named like a column, the others do not
    return {"score": cfg.a, **({"Status": 7.0, "config": 1.0} if cfg.a == 1 else {})}


def named_metrics_batch(configs: Any) -> list[dict[str, float]]:
    return [named_metrics(c) for c in configs]


def named_metrics_columns(configs: Any) -> dict[str, list[float]]:
    return {"score": [c.a for c in configs], "Status": [7.0 for _ in configs]}


PER_POINT = Experiment(name="named", config_model=Plain, run=named_metrics)


@pytest.mark.parametrize(
    "experiment",
    [
        PER_POINT,
        dataclasses.replace(PER_POINT, run_batch=named_metrics_batch),
        dataclasses.replace(PER_POINT, run_batch=named_metrics_columns),
    ],
    ids=["run", "run_batch rows", "run_batch columns"],
)
def test_a_metric_named_like_a_column_is_a_point_error_and_its_neighbours_are_kept_issue20(
    experiment: Experiment[Any],
) -> None:
    # GIVEN a shard whose point a=1 returns metrics named `Status` and `config`
    factory = tasks_for({"experiment": "named", "config": {"b": 0.0}, "grid": {"a": [0.5, 1.0, 2.0]}}, RUN)
    # WHEN the worker runs it
    found = {row["params"][0][1]: row for row in rows(experiment, factory)}
    # THEN that point is an error row naming the metric and the reserved list; the others are ok
    assert found["1.0"]["status"] == "error"
    assert found["1.0"]["error_type"] == "ValueError"
    assert found["1.0"]["error_message"] == (
        "metric `Status` is named like sweep's own column `status` (names are compared ignoring case); "
        f"rename it in the experiment: reserved names are {RESERVED_LIST}"
    )
    assert found["1.0"]["metrics"] == []
    assert [(found[a]["status"], dict(found[a]["metrics"])) for a in ("0.5", "2.0")] == [
        ("ok", {"score": 0.5}),
        ("ok", {"score": 2.0}),
    ]


RUN_COMMANDS = [
    ("results",),
    ("status",),
    ("logs",),
    ("report",),
    ("rm",),
    ("compare", "r-aaa"),
]


@pytest.mark.parametrize("command", RUN_COMMANDS, ids=[c[0] for c in RUN_COMMANDS])
def test_a_run_id_with_dot_dot_is_one_paragraph_exit_2_issue20(tmp_path: Path, command: tuple[str, ...]) -> None:
    # WHEN a command is given `../../../../etc` as its run id
    name, *rest = command
    result = run_cli(name, "../../../../etc", *rest, "--out", str(tmp_path / "results"))
    # THEN one paragraph naming the run id as given, exit 2, and nothing outside --out touched
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert_clear_refusal(result.returncode, output, command)
    assert "error: `../../../../etc` is not a run id." in output, output


def test_sweep_load_of_a_run_id_with_dot_dot_raises_a_sweep_error_issue20(tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError) as caught:
        sweep.load("../../../../etc", out=tmp_path)
    assert caught.value.value == "../../../../etc"


def test_a_bad_run_id_is_shown_as_given_issue20(tmp_path: Path) -> None:
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text("experiment: synthetic\nconfig: {y: 1}\ngrid: {x: [0.5]}\n")
    result = run_cli("run", str(sweep_file), "--run-id", "../x", "--out", str(tmp_path / "results"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "run_id '../x' is not valid" in result.stderr, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("out", ["res[12]", "res*", "res?", "status=zz", "run_id=zz"])
def test_an_out_directory_with_glob_characters_reads_only_itself_issue20(tmp_path: Path, out: str) -> None:
    # GIVEN a run `r-aaa` of 2 points in `out`, and a sibling `res1` holding a run `r-aaa` of 3 points
    sweep_file = tmp_path / "sweep.yaml"
    for directory, xs in (("res1", "[5, 6, 7]"), (out, "[1, 2]")):
        sweep_file.write_text(f"experiment: synthetic\nconfig: {{y: 1}}\ngrid: {{x: {xs}}}\n")
        result = run_cli("run", str(sweep_file), "--run-id", "r-aaa", "--out", str(tmp_path / directory), "--quiet")
        assert result.returncode == 0, result.stdout + result.stderr
    # WHEN its results are queried and loaded
    result = run_cli(
        "results",
        "r-aaa",
        "--out",
        str(tmp_path / out),
        "--format",
        "json",
        "--sql",
        "SELECT count(*) AS n, sum(CAST(params['x'] AS DOUBLE)) AS xs, min(status) AS s, min(run_id) AS r FROM points",
    )
    # THEN only its own rows are read, never the sibling's
    assert result.returncode == 0, result.stdout + result.stderr
    # AND a `key=value` directory in the path is not taken for a partition that overrides a column
    assert json.loads(result.stdout) == [{"n": 2, "xs": 3.0, "s": "ok", "r": "r-aaa"}]
    frame = sweep.load("r-aaa", out=tmp_path / out)
    assert (sorted(frame["x"]), list(frame["status"])) == ([1.0, 2.0], ["ok", "ok"])
    shutil.rmtree(tmp_path / "res1")


def test_sweep_load_keeps_metrics_named_like_columns_in_rows_written_before_issue20(tmp_path: Path) -> None:
    # GIVEN a run whose rows (written before such metrics were refused) hold metrics `config`,
    # `config_json` and `Status` beside `value`
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text("experiment: synthetic\nconfig: {y: 1}\ngrid: {x: [1, 2]}\n")
    result = run_cli("run", str(sweep_file), "--run-id", "r-old", "--out", str(tmp_path / "res"), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    for path in (tmp_path / "res" / "points" / "run_id=r-old").glob("*.parquet"):
        table = pq.read_table(path)
        metrics = [
            [*row, ("config", 1.0), ("config_json", 2.0), ("Status", 3.0)]
            for row in table.column("metrics").to_pylist()
        ]
        index = table.schema.get_field_index("metrics")
        table = table.set_column(index, table.schema.field(index), pa.array(metrics, table.schema.field(index).type))
        pq.write_table(table, path)
    # WHEN it is loaded
    frame = sweep.load("r-old", out=tmp_path / "res")
    # THEN those metrics are columns of their own, and the built-in columns keep their values
    assert list(frame["status"]) == ["ok", "ok"]
    assert list(frame["metric_Status"]) == [3.0, 3.0]
    assert list(frame["metric_config"]) == [1.0, 1.0]
    assert list(frame["metric_config_json"]) == [2.0, 2.0]
    assert [c["y"] for c in frame["config"]] == [1, 1]
