"""A task set read from a file or an S3 object: its bytes, checked line by line, kept compact.

A 31 MiB set parsed whole (text, lines, dicts, models, all at once) grew a process by 460 MB, and
every set read stayed cached: an orchestrator has 512 MB. So a set is kept as its bytes and the
offsets of its item lines; each line is validated once as the set is read and parsed again when a
point asks for its item (microseconds). Sets are kept per process in an LRU bounded in bytes
(`CACHE_BYTES`). The LRU is written here (an ordered dict and a byte count) because the one
library that does it by size (`cachetools`) is not among our dependencies and the orchestrator's
artifact gains nothing from one for twenty lines."""

from __future__ import annotations

import json
import threading
from array import array
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any, overload

from pydantic import ValidationError

from sweep_experiments.llm.items import TaskItem

MAX_NESTING = 64
"""Deepest nesting of arrays and objects a task item line may have: deeper lines are refused with
their line number (100,000 levels overflowed the parser's recursion, a 500)."""
CACHE_BYTES = 64 * 1024 * 1024
"""Bytes of task sets one process keeps (two of the largest sets); least recently used go first."""


class TaskSet(Sequence[TaskItem]):
    """The items of a verified task set, parsed when asked for."""

    def __init__(self, data: bytearray, starts: array[int], where: str) -> None:
        self._data = data
        self._starts = starts
        self._where = where

    @property
    def nbytes(self) -> int:
        return len(self._data) + self._starts.itemsize * len(self._starts)

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> TaskItem: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[TaskItem, ...]: ...
    def __getitem__(self, index: int | slice) -> TaskItem | tuple[TaskItem, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(len(self))[index])
        start = self._starts[index]
        end = self._data.find(b"\n", start)
        return _item(bytes(self._data[start : end if end >= 0 else len(self._data)]), 0, self._where)


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_NESTING:
                stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _item(line: bytes, number: int, where: str) -> TaskItem:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} line {number} is not UTF-8 text (byte {exc.start}); write it as JSONL") from None
    too_deep = f"{where} line {number} nests arrays and objects deeper than {MAX_NESTING} levels: flatten that item"
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(too_deep) from None
    except ValueError as exc:
        raise ValueError(f"{where} line {number} is not a task item ({{messages|inputs, expected}}): {exc}") from None
    # counting brackets is C-fast; only a line with many of them is walked
    if text.count("[") + text.count("{") > MAX_NESTING and _depth(value) > MAX_NESTING:
        raise ValueError(too_deep)
    try:
        return TaskItem.model_validate(value)
    except ValidationError as exc:
        raise ValueError(f"{where} line {number} is not a task item ({{messages|inputs, expected}}): {exc}") from None


def parse(data: bytearray, where: str) -> TaskSet:
    """Check every line of `data` (JSONL) is a task item, one line at a time."""
    starts: array[int] = array("q")
    position, number = 0, 0
    while position < len(data):
        end = data.find(b"\n", position)
        end = len(data) if end < 0 else end
        number += 1
        line = bytes(data[position:end])
        if line.strip():
            _item(line, number, where)
            starts.append(position)
        position = end + 1
    if not starts:
        raise ValueError(f"{where} holds no task items")
    return TaskSet(data, starts, where)


class SetCache:
    """Task sets by key, least recently used dropped first, at most `limit` bytes in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.bytes = 0
        self._sets: OrderedDict[Hashable, TaskSet] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> TaskSet | None:
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
            return found

    def put(self, key: Hashable, value: TaskSet) -> None:
        with self._lock:
            if value.nbytes > self.limit or key in self._sets:
                return
            while self._sets and self.bytes + value.nbytes > self.limit:
                _, dropped = self._sets.popitem(last=False)
                self.bytes -= dropped.nbytes
            self._sets[key] = value
            self.bytes += value.nbytes

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()
            self.bytes = 0
