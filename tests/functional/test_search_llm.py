"""examples/search-llm.yaml against the loopback model server (issue 25): every call of a trial is
sent with that trial's own options, read from its task (config-in-event), and every trial is
scored over the same task items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sweep_cli.main import app
from tests.llm_fake import FakeModelServer

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.mark.slow
def test_an_llm_search_sends_each_trial_its_own_options(tmp_path: Path) -> None:
    # GIVEN the example, made small (one round of 4 trials over 3 task items) and pointed at the fake
    sweep = yaml.safe_load((ROOT / "examples" / "search-llm.yaml").read_text())
    sweep["search"] |= {"budget": {"trials": 4}, "batch": 4, "average_over": {"task_index": [0, 1, 2]}}
    sweep["repeats"] = 1
    with FakeModelServer(delay_s=0.0).running() as server:
        sweep["config"]["endpoint"] = server.url
        path = tmp_path / "search-llm.yaml"
        path.write_text(yaml.safe_dump(sweep))
        # WHEN it runs
        result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "-w", "2"])
        assert result.exit_code == 0, result.output
        sent = [(r["temperature"], r["top_p"], r["repeat_penalty"]) for r in server.requests]
    result = runner.invoke(app, ["results", "search-llm", "--out", str(tmp_path / "out"), "--format", "json"])
    history = json.loads(result.output)["history"]
    # THEN each trial's three calls carried exactly its parameters, and it scored on all three items
    expected = sorted(
        (t["params"]["temperature"], t["params"]["top_p"], t["params"]["extra.repeat_penalty"])
        for t in history
        for _ in range(3)
    )
    assert sorted(sent) == expected
    assert [(t["state"], t["points_ok"]) for t in history] == [("complete", 3)] * 4
