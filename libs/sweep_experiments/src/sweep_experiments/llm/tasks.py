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
  stage runs a set of its own. On a stage this is the only kind of set read, and only under its
  results bucket's `tasksets/`: a path or any other object is refused before it is touched.

A file or object is read in chunks, hashed as it arrives, at most `remote.MAX_BYTES`; a process
keeps the sets it read in `CACHE`, bounded in bytes (`sweep_experiments.llm.taskset`).
"""

from __future__ import annotations

import functools
import os
import random
import stat
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sweep_experiments.llm import remote
from sweep_experiments.llm.items import TaskItem
from sweep_experiments.llm.taskset import CACHE_BYTES, SetCache, TaskSet, parse

__all__ = ["BUILTIN_SIZE", "CACHE", "DEFAULT_SCORER", "TaskItem", "builtin", "clear_cache", "load"]

BUILTIN_SIZE = 50
DEFAULT_SCORER = {"arithmetic": "numeric", "counting": "numeric", "multiple-choice": "choice"}


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


REFUSAL_TTL_S = 10.0
"""A set refused for its content (or absent) is not fetched again for this long in one process,
and after it only when its ETag changed (a conditional GET): a shard's points share the verdict."""
MAX_REFUSALS = 256

CACHE = SetCache(CACHE_BYTES)
_fetching = threading.Lock()  # one fetch of a set per process, whatever the points' threads


@dataclass
class _Refusal:
    etag: str | None
    message: str
    at: float


_refusals: dict[tuple[str, str], _Refusal] = {}


def clear_cache() -> None:
    """Forget every set and verdict (a new process would), and where this process runs."""
    CACHE.clear()
    _refusals.clear()
    remote.stage_bucket.cache_clear()


def _verified(data: bytearray, actual: str, sha256: str, where: str) -> TaskSet:
    if actual != sha256.lower():
        raise ValueError(
            f"task set {where} has SHA-256 {actual}, not `tasks_sha256` {sha256}: the file changed since the "
            "sweep was written; restore it, or set `tasks_sha256` to the new hash for a new sweep"
        )
    return parse(data, f"task set {where}")


def _read_file(path: str) -> tuple[bytearray, str]:
    # O_NONBLOCK: opening a FIFO does not wait for a writer; then only a regular file is read
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ValueError(
            f"task set {path!r} cannot be read ({exc.strerror}); built-in sets: {', '.join(_GENERATORS)}"
        ) from None
    with os.fdopen(fd, "rb", buffering=0) as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"task set {path!r} is not a regular file: name a JSONL file")
        if info.st_size > remote.MAX_BYTES:
            raise ValueError(
                f"task set {path!r} is {info.st_size:,} bytes, over the limit of {remote.MAX_BYTES:,}: "
                "split it into smaller sets"
            )
        return remote.read_capped(file.read, repr(path))


def _from_file(path: str, sha256: str) -> TaskSet:
    try:
        info = os.stat(path)
        signature = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    except OSError:
        signature = None  # reading it says why
    key = ("file", path, sha256.lower(), signature)
    found = CACHE.get(key)
    if found is None:
        data, actual = _read_file(path)
        found = _verified(data, actual, sha256, path)
        CACHE.put(key, found)
    return found


def _from_s3(uri: str, sha256: str) -> TaskSet:
    """A set is verified once per process: its content is its hash. A refusal is kept per (object,
    ETag), so the points of a shard share one fetch; a transient failure (`StoreError`) is not kept."""
    key = ("s3", uri, sha256.lower())
    found = CACHE.get(key)
    if found is not None:
        return found
    with _fetching:
        found = CACHE.get(key)
        if found is not None:
            return found
        verdict = (uri, sha256.lower())
        refusal, now = _refusals.get(verdict), time.monotonic()
        if refusal is not None and (now - refusal.at < REFUSAL_TTL_S):
            raise ValueError(refusal.message)
        try:
            fetched = remote.fetch(uri, if_none_match=refusal.etag if refusal else None)
        except ValueError as exc:  # absent or refused: a verdict; StoreError (transient) is none
            _refuse(verdict, _Refusal(None, str(exc), now))
            raise
        if fetched is None and refusal is not None:  # its ETag is the one refused
            refusal.at = now
            raise ValueError(refusal.message)
        assert fetched is not None  # None answers a conditional fetch only
        try:
            found = _verified(fetched.data, fetched.sha256, sha256, uri)
        except ValueError as exc:
            _refuse(verdict, _Refusal(fetched.etag, str(exc), now))
            raise
        _refusals.pop(verdict, None)
        CACHE.put(key, found)
        return found


def _refuse(verdict: tuple[str, str], refusal: _Refusal) -> None:
    if len(_refusals) >= MAX_REFUSALS:
        _refusals.pop(next(iter(_refusals)))
    _refusals[verdict] = refusal


def load(tasks: str, items: list[dict[str, Any]] | None, sha256: str | None) -> Sequence[TaskItem]:
    """The items of a task source; ValueError names the problem and the fix. On a stage, only an
    object under its results bucket's `tasksets/` is read; anything else is refused unread."""
    if tasks in _GENERATORS:
        return builtin(tasks)
    if tasks == "inline":
        if not items:
            raise ValueError("`tasks: inline` needs the items in `task_items`")
        return tuple(TaskItem.model_validate(i) for i in items)
    bucket = remote.stage_bucket()
    if bucket is not None:
        remote.check_stage_reference(tasks, bucket)
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
    return _from_file(path, sha256)
