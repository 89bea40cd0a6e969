"""What a researcher reads about a score (issue 21, item 1): the final answer is scored, the row
records the answer the scorer read, and bad `scorer_args` fail at submit. The replies are real
ones from tests/golden/replies.jsonl, served by a loopback server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sweep_contracts.errors import SweepError
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.submit import submit_run
from tests.helpers import runtime_for
from tests.llm_fake import FakeModelServer, Fault
from tests.llm_helpers import run_llm


def replying(text: str) -> Any:
    def behave(body: dict[str, Any], seen: int) -> Fault:
        reply = {
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48},
        }
        return Fault(200, json.dumps(reply).encode())

    return behave


def payload(url: str, **config: Any) -> dict[str, Any]:
    return {"experiment": "openai-chat", "config": {"endpoint": url, "model": "smollm2", **config}}


@pytest.mark.parametrize(
    ("tasks", "index", "reply", "answer"),
    [
        ("arithmetic", 2, "46 + 33 = 79", "79"),  # golden line 3: the first number is 46
        ("counting", 4, "The letter 'd' appears twice in the sentence \"baddaa\".", "2"),
        ("multiple-choice", 3, "The largest possible is 95.", "B"),  # golden line 74: no letter, B's value
    ],
)
def test_a_right_final_answer_scores_1_and_the_row_says_what_was_read(
    tasks: str, index: int, reply: str, answer: str
) -> None:
    with FakeModelServer(behave=replying(reply)).running() as server:
        _, rows = run_llm(payload(server.url, tasks=tasks, task_index=index), MemoryStore(), key="")
    row = rows[0]
    assert row["status"] == "ok", row["error_message"]
    assert row["metrics"]["score"] == 1.0
    assert row["call"]["answer"] == answer
    assert row["output"] == reply


def test_a_reply_without_an_answer_records_none() -> None:
    reply = "To solve this problem, we need to find the sum of 37 and"  # golden line 1, cut off
    with FakeModelServer(behave=replying(reply)).running() as server:
        _, rows = run_llm(payload(server.url, tasks="multiple-choice"), MemoryStore(), key="")
    assert rows[0]["metrics"]["score"] == 0.0
    assert rows[0]["call"]["answer"] is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"scorer_args": {"extract": "middle"}},
            "scorer `numeric`: `scorer_args.extract` is 'middle'; `numeric` takes one of: last, first, regex",
        ),
        (
            {"scorer_args": {"extract": "regex", "pattern": r"answer is \d+"}},
            "scorer `numeric`: `scorer_args.pattern` 'answer is \\\\d+' has no capture group; put the number's "
            "part in one, e.g. 'answer is (\\S+)'",
        ),
        (
            {"scorer_args": {"tolerance": -1}},
            "scorer `numeric`: `scorer_args.tolerance` is -1; give a number >= 0, e.g. 0.01",
        ),
    ],
)
def test_bad_scorer_args_fail_at_submit(config: dict[str, Any], message: str) -> None:
    rt, dispatcher = runtime_for(MemoryStore())
    with pytest.raises(SweepError) as info:
        submit_run(payload("http://127.0.0.1:9", **config), rt)
    assert [(p.field, p.message) for p in info.value.problems] == [("config.scorer_args", message)]
    assert dispatcher.events == []


def test_extract_first_and_regex_read_the_number_they_name() -> None:
    reply = '12 + 40 = 48\nThe answer is "56"'  # golden line 137
    expected_by_extract = {"first": "12", "last": "56"}
    for extract, read in expected_by_extract.items():
        with FakeModelServer(behave=replying(reply)).running() as server:
            _, rows = run_llm(
                payload(server.url, task_index=10, scorer_args={"extract": extract}), MemoryStore(), key=""
            )
        assert rows[0]["call"]["answer"] == read
    with FakeModelServer(behave=replying(reply)).running() as server:
        config = {"extract": "regex", "pattern": r"= (\d+)"}
        _, rows = run_llm(payload(server.url, task_index=10, scorer_args=config), MemoryStore(), key="")
    assert rows[0]["call"]["answer"] == "48"
