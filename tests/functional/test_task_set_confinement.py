"""On a stage, `tasks:` names nothing but an object under `s3://<results bucket>/tasksets/`: the
orchestrator refuses every other value without opening, stat-ing or fetching it, and its answer
echoes no hash and no file system message (issue 20, item 2). Attacks sent through the moto
stage's POST /runs, with the Lambda environment the stage's functions have."""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from sweep_contracts import environment
from sweep_experiments.llm import tasks
from tests.cloud import BUCKET, ORCHESTRATOR, Stage

ITEM = {"messages": [{"role": "user", "content": "What is 2 + 2?"}], "expected": "4"}
DATA = (json.dumps(ITEM) + "\n").encode()
SHA = hashlib.sha256(DATA).hexdigest()
HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def on_stage(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """The moto stage, with the environment Lambda and the stack give its functions."""
    monkeypatch.setenv(environment.LAMBDA_FUNCTION, ORCHESTRATOR)
    monkeypatch.setenv(environment.STORE, f"s3://{BUCKET}")
    tasks.clear_cache()
    yield stage
    tasks.clear_cache()


class Touches:
    """Every file system and S3 object access the code under test makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        self.objects: list[tuple[str, str]] = []
        for module, name in [(os, "open"), (os, "stat"), (os, "lstat"), (io, "open"), (builtins, "open")]:
            monkeypatch.setattr(module, name, self._recording(getattr(module, name)))
        make_call = BaseClient._make_api_call

        def api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if "Key" in params:
                self.objects.append((operation, f"s3://{params.get('Bucket')}/{params['Key']}"))
            return make_call(client, operation, params)

        monkeypatch.setattr(BaseClient, "_make_api_call", api_call)

    def _recording(self, real: Any) -> Any:
        def recorded(path: Any, *args: Any, **kwargs: Any) -> Any:
            self.paths.append(os.fsdecode(path) if isinstance(path, str | bytes | os.PathLike) else str(path))
            return real(path, *args, **kwargs)

        return recorded


def submit(stage: Stage, value: str, sha: str = SHA) -> tuple[int, Any]:
    return stage.call(
        "POST",
        "/runs",
        {
            "experiment": "ollama",
            "config": {"endpoint": "http://127.0.0.1:9", "model": "m", "tasks": value, "tasks_sha256": sha},
        },
    )


HOSTILE_FILES = ["/proc/self/environ", "/etc/hostname", "file:///proc/self/cmdline", "/dev/zero", "/no/such/file"]


@pytest.mark.parametrize("value", HOSTILE_FILES)
def test_a_stage_reads_no_file_a_caller_names(on_stage: Stage, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a caller naming a file on the orchestrator's machine, existing or not
    touches = Touches(monkeypatch)
    # WHEN it is submitted
    status, body = submit(on_stage, value)
    monkeypatch.undo()
    # THEN one 400 on `config.tasks` that says where task sets go, the same whether the file exists
    assert status == 400, body
    assert body["field"] == "config.tasks", body
    assert body["message"].replace(repr(value), "VALUE") == (
        "`config.tasks`: task set VALUE is not read on a stage: a stage reads task sets only "
        f"from s3://{BUCKET}/tasksets/ (upload it with `aws s3 cp SET.jsonl s3://{BUCKET}/tasksets/SET.jsonl`)"
        " (experiment `ollama`)."
    )
    # and no hash, no file system message, and nothing opened or stat-ed
    text = json.dumps(body)
    assert not HEX64.search(text.replace(SHA, "")), text
    assert "No such file" not in text
    path = value.removeprefix("file://")
    assert [p for p in touches.paths if p.startswith(path)] == []
    assert on_stage.invokes.calls == []


def test_a_stage_does_not_open_a_file_under_tmp(
    on_stage: Stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a real task set file with its right hash, in a place the orchestrator could read
    path = tmp_path / "set.jsonl"
    path.write_bytes(DATA)
    touches = Touches(monkeypatch)
    # WHEN a caller names it THEN it is refused, never opened or stat-ed
    status, body = submit(on_stage, str(path))
    monkeypatch.undo()
    assert status == 400, body
    assert [p for p in touches.paths if p.startswith(str(tmp_path))] == []


HOSTILE_OBJECTS = [
    f"s3://{BUCKET}/runs/run_id=other/manifest.json",
    f"s3://{BUCKET}/tasksets/../runs/run_id=other/manifest.json",
    f"s3://{BUCKET}/tasksetsX/set.jsonl",
    f"s3://{BUCKET}/TASKSETS/set.jsonl",
    "s3://someone-elses-bucket/tasksets/set.jsonl",
    f"s3://{BUCKET}.evil/tasksets/set.jsonl",
]


@pytest.mark.parametrize("value", HOSTILE_OBJECTS)
def test_a_stage_fetches_no_object_outside_its_tasksets(
    on_stage: Stage, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN objects that exist where a caller points: another run's manifest, a set elsewhere
    for key in ["runs/run_id=other/manifest.json", "tasksetsX/set.jsonl", "TASKSETS/set.jsonl"]:
        on_stage.s3.put_object(Bucket=BUCKET, Key=key, Body=DATA)
    touches = Touches(monkeypatch)
    # WHEN a caller names one
    status, body = submit(on_stage, value)
    monkeypatch.undo()
    # THEN 400 naming the stage's tasksets/ prefix, no hash, and no S3 call for it
    assert status == 400, body
    assert body["field"] == "config.tasks", body
    assert f"a stage reads task sets only from s3://{BUCKET}/tasksets/" in body["message"], body
    assert not HEX64.search(json.dumps(body).replace(SHA, "")), body
    assert [o for o in touches.objects if o[1] == value or "run_id=other" in o[1]] == []


def test_a_set_under_the_stages_tasksets_is_read(on_stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a set where the stage keeps them
    on_stage.s3.put_object(Bucket=BUCKET, Key="tasksets/mine.jsonl", Body=DATA)
    touches = Touches(monkeypatch)
    # WHEN it is submitted THEN it is fetched (once) and accepted
    status, body = submit(on_stage, f"s3://{BUCKET}/tasksets/mine.jsonl")
    monkeypatch.undo()
    assert status == 202, body
    assert [o for o in touches.objects if "tasksets/" in o[1]] == [("GetObject", f"s3://{BUCKET}/tasksets/mine.jsonl")]


def test_a_set_nested_100000_deep_is_a_400_naming_the_line(on_stage: Stage) -> None:
    # GIVEN a set under the stage's tasksets/ whose first line nests 100,000 arrays
    data = b'{"expected": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    on_stage.s3.put_object(Bucket=BUCKET, Key="tasksets/deep.jsonl", Body=data)
    # WHEN it is submitted THEN one 400 names the set, the line and the limit (not a 500)
    status, body = submit(on_stage, f"s3://{BUCKET}/tasksets/deep.jsonl", hashlib.sha256(data).hexdigest())
    assert status == 400, body
    assert body["field"] == "config.tasks", body
    assert body["message"].startswith(
        f"`config.tasks`: task set s3://{BUCKET}/tasksets/deep.jsonl line 1 nests arrays and objects deeper "
        "than 64 levels: flatten that item"
    ), body
