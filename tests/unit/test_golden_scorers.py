"""The built-in scorers against real replies labelled by reading them (tests/golden/README.md):
a scorer must agree with the person who read the reply, not with its own idea of one (issue 21,
item 1)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sweep_experiments.llm import scorers

CORPUS = Path(__file__).resolve().parents[1] / "golden" / "replies.jsonl"
TARGET = 0.99


def corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def truth(name: str, record: dict[str, Any]) -> bool | None:
    """What a reader says `name` should answer for this reply; None where the scorer does not apply."""
    if name in ("numeric", "choice"):
        return bool(record["verdict"]) if record["scorer"] == name else None
    if name == "normalized-exact":
        return bool(record["verdict"]) and record["bare"] in ("plain", "decorated")
    if name == "exact":
        return bool(record["verdict"]) and record["bare"] == "plain"
    return None


def scorer_args(record: dict[str, Any]) -> dict[str, Any]:
    """What `taskrun` passes: the item's `choices`, if any."""
    return {"choices": record["choices"]} if record.get("choices") else {}


def disagreements(
    name: str, score: Callable[[str, Any, dict[str, Any]], float], records: list[dict[str, Any]]
) -> tuple[int, list[str]]:
    checked, wrong = 0, []
    for number, record in enumerate(records, 1):
        wanted = truth(name, record)
        if wanted is None:
            continue
        checked += 1
        got = score(record["reply"], record["expected"], scorer_args(record))
        if bool(got) != wanted:
            answer = getattr(got, "answer", None)
            wrong.append(
                f"line {number}: expected {record['expected']!r}, read {answer!r}, scored {float(got)}, "
                f"labelled {wanted}: {record['reply'][:120]!r}"
            )
    return checked, wrong


def test_the_corpus_is_real_labelled_and_large_enough() -> None:
    records = corpus()
    assert len(records) >= 300
    assert all(isinstance(r["verdict"], bool) for r in records), "every reply needs a verdict (read it)"
    assert all(r["bare"] in (None, "plain", "decorated") for r in records)
    # both temperatures, every built-in set, both kinds of verdict in each
    assert {r["options"]["temperature"] for r in records} == {0.0, 0.7}
    counts = Counter((r["set"], r["verdict"]) for r in records)
    assert all(counts[(s, v)] >= 10 for s in ("arithmetic", "counting", "multiple-choice") for v in (True, False))
    # no reply twice for one prompt: each line is one real, distinct reply
    assert len({(json.dumps(r["messages"]), r["reply"]) for r in records}) == len(records)


@pytest.mark.parametrize("name", ["numeric", "choice", "normalized-exact", "exact"])
def test_a_builtin_scorer_agrees_with_the_readers_verdicts(name: str) -> None:
    checked, wrong = disagreements(name, scorers.get(name), corpus())
    assert checked >= 100
    agreement = 1 - len(wrong) / checked
    assert agreement >= TARGET, f"{name}: {agreement:.1%} of {checked} agree; disagreements:\n" + "\n".join(wrong)


@pytest.mark.parametrize("name", ["contains", "regex", "json-valid"])
def test_the_other_builtin_scorers_read_every_real_reply(name: str) -> None:
    # these check text, not a final answer: no verdict to agree with, but no reply may break them,
    # and each records what it read
    for record in corpus():
        got = scorers.get(name)(record["reply"], record["expected"], {})
        assert float(got) in (0.0, 1.0)
        assert isinstance(got, scorers.Scored)
