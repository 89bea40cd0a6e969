"""Scorers, task sets and retry-after parsing of the LLM experiments."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sweep_experiments.llm import scorers, tasks
from sweep_experiments.llm.http import auth_headers, redact, retry_after_s


@pytest.mark.parametrize(
    ("name", "output", "expected", "args", "score"),
    [
        ("exact", " 42 ", "42", {}, 1.0),
        ("exact", "42.", "42", {}, 0.0),
        ("normalized-exact", "Paris!", "paris", {}, 1.0),
        ("contains", "The answer is Paris.", "paris", {}, 1.0),
        ("regex", "id: ab-12", r"[a-z]{2}-\d+", {}, 1.0),
        ("regex", "nothing", "", {"pattern": r"\d"}, 0.0),
        ("numeric", "It is 3.14159", "3.14", {"tolerance": 0.01}, 1.0),
        ("numeric", "1,024", "1024", {}, 1.0),
        ("numeric", "no number", "1", {}, 0.0),
        ("json-valid", '```json\n{"a": 1}\n```', None, {}, 1.0),
        ("json-valid", '{"a": 1}', {"a": 2}, {}, 0.0),
        ("json-valid", "{a: 1}", None, {}, 0.0),
        ("choice", "B) 47", "B", {}, 1.0),
        ("choice", "The answer is (C).", "B", {}, 0.0),
        ("choice", "Answer: d", "D", {}, 0.0),
    ],
)
def test_scorers(name: str, output: str, expected: object, args: dict[str, object], score: float) -> None:
    assert scorers.get(name)(output, expected, args) == score


def test_an_unknown_scorer_lists_the_registered_ones() -> None:
    with pytest.raises(
        ValueError, match="scorer 'fuzzy' is not registered; registered scorers: choice, contains, exact"
    ):
        scorers.get("fuzzy")


@pytest.mark.parametrize("name", ["arithmetic", "counting", "multiple-choice"])
def test_builtin_sets_are_deterministic_and_answer_themselves(name: str) -> None:
    items = tasks.builtin(name)
    assert len(items) == tasks.BUILTIN_SIZE
    tasks.builtin.cache_clear()
    assert tasks.builtin(name) == items
    scorer = scorers.get(tasks.DEFAULT_SCORER[name])
    first = items[0]
    assert first.messages is not None
    assert scorer(str(first.expected), first.expected, {}) == 1.0


def test_a_file_set_is_read_only_with_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"inputs": {"x": "Paris"}, "expected": "France"}\n\n{"messages": [{"role": "user", "content": "hi"}]}\n'
    )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    items = tasks.load(str(path), None, digest)
    assert items[0].chat_messages("Where is {x}?", "Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is Paris?"},
    ]
    path.write_text('{"inputs": {"x": "Rome"}, "expected": "Italy"}\n')
    with pytest.raises(ValueError, match="the file changed since the sweep was written"):
        tasks.load(f"file://{path}", None, digest)
    with pytest.raises(ValueError, match="needs `tasks_sha256`"):
        tasks.load(str(path), None, None)


def test_retry_after_prefers_milliseconds_and_ignores_dates() -> None:
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}) is None


def test_the_key_header_and_redaction() -> None:
    assert auth_headers("Authorization", "k1") == {"Authorization": "Bearer k1"}
    assert auth_headers("X-API-Key", "k1") == {"X-API-Key": "k1"}
    assert auth_headers("X-API-Key", "") == {}
    assert redact("bad key k1 here", "k1") == "bad key *** here"
