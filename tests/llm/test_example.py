"""examples/llm-local.yaml against the real model (issue 21, item 8): it shows a real effect (a
score that is not 0), and its scores agree with the verdicts a reader gave the same replies in
tests/golden/replies.jsonl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from sweep_contracts.storage import LocalStore
from sweep_experiments.llm import tasks
from tests.llm_helpers import rows

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "llm-local.yaml"
GOLDEN = ROOT / "tests" / "golden" / "replies.jsonl"


def test_the_local_example_scores_above_0_and_agrees_with_the_golden_verdicts(llm_url: str, tmp_path: Path) -> None:
    # GIVEN the example of docs/guide/llm.md, pointed at the tier's server
    sweep = yaml.safe_load(EXAMPLE.read_text())
    sweep["config"]["endpoint"] = llm_url
    sweep_file = tmp_path / "llm-local.yaml"
    sweep_file.write_text(yaml.safe_dump(sweep))
    # WHEN `sweep run` runs it
    done = subprocess.run(
        [sys.executable, "-m", "sweep_cli", "run", str(sweep_file), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        env={**os.environ, "SWEEP_SECRET_API_KEY": ""},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = rows(LocalStore(tmp_path / "out"))
    assert len(got) == 40
    assert all(r["status"] == "ok" for r in got), [r["error_message"] for r in got]
    # THEN the score is not 0
    assert sum(r["metrics"]["score"] for r in got) > 0
    # AND on every reply a reader labelled, the score is the reader's verdict
    gold = {}
    for line in GOLDEN.read_text().splitlines():
        record = json.loads(line)
        gold[(json.dumps(record["messages"]), record["reply"])] = record["verdict"]
    system = sweep["config"]["system"]
    checked, wrong, unlabelled = 0, [], []
    for row in got:
        item = tasks.builtin("arithmetic")[row["config"]["task_index"]]
        key = (json.dumps(item.chat_messages(None, system)), row["output"])
        if key not in gold:
            unlabelled.append(row["output"])
            continue
        checked += 1
        if (row["metrics"]["score"] == 1.0) != gold[key]:
            wrong.append((row["output"], row["call"]["answer"], row["metrics"]["score"], gold[key]))
    assert wrong == []
    # most replies repeat the recorded ones (temperature 0, fixed seeds): new ones need labels
    assert checked >= len(got) // 2, f"only {checked} of {len(got)} replies are labelled; new: {unlabelled}"
