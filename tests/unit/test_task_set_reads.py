"""Reading a task set on the user's own machine: bounded in bytes, time, nesting and what a
process keeps (issue 20, items 2 and 3)."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweep_experiments.llm import tasks

ITEM = {"messages": [{"role": "user", "content": "What is 2 + 2?"}], "expected": "4"}


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    tasks.clear_cache()
    yield
    tasks.clear_cache()


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_that_never_ends_is_refused_at_once(device: str) -> None:
    # GIVEN a local set naming a device whose reads never end
    started = time.monotonic()
    # WHEN it is loaded THEN it is refused for what it is, before any byte is read
    with pytest.raises(ValueError, match=f"^task set '{device}' is not a regular file: name a JSONL file$"):
        tasks.load(device, None, "0" * 64)
    assert time.monotonic() - started < 1.0


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "set.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is not a regular file"):
        tasks.load(str(fifo), None, "0" * 64)


def test_a_missing_local_file_says_why(tmp_path: Path) -> None:
    # locally the file system's reason is the user's own business, and the useful answer
    with pytest.raises(ValueError, match=r"cannot be read \(No such file or directory\)"):
        tasks.load(str(tmp_path / "absent.jsonl"), None, "0" * 64)


def test_a_line_nested_100000_deep_is_refused_naming_the_line(tmp_path: Path) -> None:
    # GIVEN a set whose second line nests 100,000 arrays
    deep = b"[" * 100_000 + b"]" * 100_000
    data = json.dumps(ITEM).encode() + b"\n" + b'{"expected": ' + deep + b"}\n"
    digest = write(tmp_path / "deep.jsonl", data)
    # WHEN it is loaded THEN one clear ValueError names the line and the limit
    with pytest.raises(ValueError, match="line 2") as caught:
        tasks.load(str(tmp_path / "deep.jsonl"), None, digest)
    assert str(caught.value) == (
        f"task set {tmp_path / 'deep.jsonl'} line 2 nests arrays and objects deeper than 64 levels: flatten that item"
    )


def test_a_line_nested_below_the_recursion_limit_but_past_the_limit_is_refused(tmp_path: Path) -> None:
    deep = b"[" * 200 + b"]" * 200
    digest = write(tmp_path / "deep.jsonl", b'{"expected": ' + deep + b"}\n")
    with pytest.raises(ValueError, match="line 1 nests arrays and objects deeper than 64 levels"):
        tasks.load(str(tmp_path / "deep.jsonl"), None, digest)


def test_items_come_back_as_written(tmp_path: Path) -> None:
    lines = [{"messages": [{"role": "user", "content": f"q{i} é"}], "expected": str(i)} for i in range(5)]
    data = ("\r\n\n".join(json.dumps(item, ensure_ascii=False) for item in lines) + "\n").encode()
    items = tasks.load(str(tmp_path / "s.jsonl"), None, write(tmp_path / "s.jsonl", data))
    assert len(items) == 5
    assert [item.model_dump(exclude_none=True) for item in items] == lines
    assert items[-1].expected == "4"
    with pytest.raises(IndexError):
        items[5]


def set_of(size: int, salt: int) -> bytes:
    line = json.dumps({"messages": [{"role": "user", "content": "x" * 200}], "expected": str(salt)}).encode() + b"\n"
    return line * (size // len(line))


@pytest.mark.slow
def test_what_a_process_keeps_is_bounded_in_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a process allowed to keep 6 MiB of task sets, and six sets of 2 MiB each
    limit = 6 * 1024 * 1024
    monkeypatch.setattr(tasks.CACHE, "limit", limit)
    paths = []
    for n in range(6):
        data = set_of(2 * 1024 * 1024, n)
        paths.append((str(tmp_path / f"s{n}.jsonl"), write(tmp_path / f"s{n}.jsonl", data)))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # WHEN each is loaded (and each read is used)
        for path, digest in paths:
            assert tasks.load(path, None, digest)[0].expected is not None
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # THEN what stays in memory is within the limit (plus a little bookkeeping), not all six
    assert kept < limit + 512 * 1024, f"{kept:,} bytes kept"
    # and the most recent set is still served from memory, without opening its file
    path, digest = paths[-1]

    def no_open(*_: object, **__: object) -> int:
        raise AssertionError("the file was opened again")

    monkeypatch.setattr(os, "open", no_open)
    assert len(tasks.load(path, None, digest)) > 0


def test_a_set_changed_on_disk_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    first = write(path, json.dumps(ITEM).encode() + b"\n")
    assert len(tasks.load(str(path), None, first)) == 1
    second = write(path, (json.dumps(ITEM).encode() + b"\n") * 2)
    with pytest.raises(ValueError, match="the file changed since the sweep was written"):
        tasks.load(str(path), None, first)
    assert len(tasks.load(str(path), None, second)) == 2
