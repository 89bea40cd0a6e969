"""Task sets: the prompts an LLM experiment sends, each with its expected answer.

An item is `{"messages": [...], "expected": ...}`, or `{"inputs": {...}, "expected": ...}` with
the config's `template` (`str.format` over the inputs) as the user message; a multiple-choice item
may add its options, `"choices": {"A": "94", "B": "46"}`, so that `choice` can read a reply that
names an option's text instead of its letter. A point evaluates the
single item `task_index` of its set, so a sweep covers a set by making `task_index` an axis:
points = options grid × task items × repeats, one row per call. Sources (config field `tasks`):

- a built-in set, generated deterministically with known answers: `arithmetic`, `counting`,
  `multiple-choice` (50 items each);
- `inline`: the items are the config's `task_items` (they travel in every shard task, so the
  request size cap bounds them);
- a file `path/to/set.jsonl` (or `file://...`), immutable by contract: `tasks_sha256` must be its
  SHA-256, checked at submit and by every worker, so a changed file fails instead of silently
  giving different prompts. The path must be readable where the points run (local runs);
- an S3 object `s3://bucket/tasksets/set.jsonl`, with `tasks_sha256` likewise: fetched and
  verified at submit and by every worker process (`sweep_experiments.llm.remote`), the way a
  stage runs a set of its own.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from sweep_experiments.llm import remote

BUILTIN_SIZE = 50
DEFAULT_SCORER = {"arithmetic": "numeric", "counting": "numeric", "multiple-choice": "choice"}


class TaskItem(BaseModel):
    """One prompt and its expected answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[dict[str, JsonValue]] | None = None
    inputs: dict[str, JsonValue] | None = None
    expected: JsonValue = None
    choices: dict[str, str] | None = None

    def chat_messages(self, template: str | None, system: str | None) -> list[dict[str, Any]]:
        head = [{"role": "system", "content": system}] if system else []
        if self.messages is not None:
            return head + [dict(m) for m in self.messages]
        if template is None:
            raise ValueError("this task item has `inputs` but the config has no `template` to put them in")
        return [*head, {"role": "user", "content": template.format(**(self.inputs or {}))}]


def _ask(question: str, expected: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}], "expected": expected}


def _arithmetic(rng: random.Random) -> dict[str, Any]:
    a, b = rng.randint(2, 60), rng.randint(2, 40)
    op = rng.choice("+-*")
    value = a + b if op == "+" else a - b if op == "-" else a * b
    return _ask(f"What is {a} {op} {b}? Answer with the number only.", str(value))


def _counting(rng: random.Random) -> dict[str, Any]:
    word = "".join(rng.choice("abcd") for _ in range(rng.randint(4, 12)))
    letter = rng.choice("abcd")
    return _ask(
        f"How many times does the letter '{letter}' appear in '{word}'? Answer with the number only.",
        str(word.count(letter)),
    )


def _multiple_choice(rng: random.Random) -> dict[str, Any]:
    numbers = rng.sample(range(1, 100), 4)
    options = " ".join(f"{letter}) {n}" for letter, n in zip("ABCD", numbers, strict=True))
    answer = "ABCD"[numbers.index(max(numbers))]
    item = _ask(f"Which number is the largest? {options}. Answer with the letter only.", answer)
    return {**item, "choices": {letter: str(n) for letter, n in zip("ABCD", numbers, strict=True)}}


_GENERATORS = {"arithmetic": _arithmetic, "counting": _counting, "multiple-choice": _multiple_choice}


@functools.cache
def builtin(name: str) -> tuple[TaskItem, ...]:
    rng = random.Random(f"sweep-tasks:{name}")
    return tuple(TaskItem.model_validate(_GENERATORS[name](rng)) for _ in range(BUILTIN_SIZE))


def _parse_lines(text: str, where: str) -> tuple[TaskItem, ...]:
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(TaskItem.model_validate(json.loads(line)))
        except (ValueError, ValidationError) as exc:
            raise ValueError(
                f"{where} line {number} is not a task item ({{messages|inputs, expected}}): {exc}"
            ) from None
    if not items:
        raise ValueError(f"{where} holds no task items")
    return tuple(items)


def _verified(data: bytes, sha256: str, where: str) -> tuple[TaskItem, ...]:
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        raise ValueError(
            f"task set {where} has SHA-256 {actual}, not `tasks_sha256` {sha256}: the file changed since the "
            "sweep was written; restore it, or set `tasks_sha256` to the new hash for a new sweep"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"task set {where} is not UTF-8 text (byte {exc.start}); write it as JSONL") from None
    return _parse_lines(text, f"task set {where}")


@functools.cache
def _from_file(path: str, sha256: str, mtime_ns: int) -> tuple[TaskItem, ...]:
    return _verified(Path(path).read_bytes(), sha256, path)


@functools.cache
def _from_s3(uri: str, sha256: str) -> tuple[TaskItem, ...]:
    # cached by content hash: the object is immutable by contract, and a changed one fails here
    return _verified(remote.fetch(uri), sha256, uri)


def load(tasks: str, items: list[dict[str, Any]] | None, sha256: str | None) -> tuple[TaskItem, ...]:
    """The items of a task source; ValueError names the problem and the fix."""
    if tasks in _GENERATORS:
        return builtin(tasks)
    if tasks == "inline":
        if not items:
            raise ValueError("`tasks: inline` needs the items in `task_items`")
        return tuple(TaskItem.model_validate(i) for i in items)
    if tasks.startswith("s3://"):
        if not sha256:
            raise ValueError(
                f"task set {tasks!r} needs `tasks_sha256` (its SHA-256) so every worker reads the same items"
            )
        return _from_s3(tasks, sha256)
    path = tasks.removeprefix("file://")
    if not sha256:
        raise ValueError(
            f"task set file {path!r} needs `tasks_sha256` (its SHA-256) so every worker reads the same items; "
            f"built-in sets: {', '.join(_GENERATORS)}, or `inline`"
        )
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError as exc:
        raise ValueError(
            f"task set {path!r} cannot be read ({exc.strerror}); built-in sets: {', '.join(_GENERATORS)}"
        ) from None
    return _from_file(path, sha256, mtime)
