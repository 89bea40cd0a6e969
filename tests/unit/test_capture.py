"""A point's output is captured per point, also when points run on threads (issue 12)."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from sweep_contracts.schema import LOG_LIMIT
from sweep_worker.capture import ShardCapture, capture


def test_each_thread_keeps_its_own_output_and_log_records() -> None:
    results: dict[int, str | None] = {}
    barrier = threading.Barrier(2)

    def point(n: int) -> None:
        with capture() as captured:
            barrier.wait()  # both points print at the same time
            for _ in range(50):
                print(f"point {n}")
            sys.stderr.write(f"warning {n}\n")
            logging.getLogger("experiment").warning("logged %d", n)
        results[n] = captured.text

    threads = [threading.Thread(target=point, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in (1, 2):
        assert results[n] == f"point {n}\n" * 50 + f"warning {n}\nWARNING experiment: logged {n}\n"


def test_captured_output_is_bounded_and_silence_is_none() -> None:
    with capture() as captured:
        print("x" * (LOG_LIMIT * 2))
    assert captured.text is not None
    assert captured.text.startswith(f"[{LOG_LIMIT + 1:,} earlier characters cut]\n")
    assert len(captured.text) < LOG_LIMIT + 50
    with capture() as quiet:
        pass
    assert quiet.text is None


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_point_printing_much_keeps_only_the_tail_while_it_runs() -> None:
    # GIVEN a shard capture; WHEN a point prints 80 MB, a kilobyte at a time
    before = _rss_bytes()
    with ShardCapture() as captured:
        for i in range(80_000):
            print(f"{i:08d}" + "y" * 1015)  # each line its own string, as a real point's are
        print("the end")
        grown = _rss_bytes() - before
        text = captured.take()
        after = captured.take()
    # THEN the process did not grow by what was printed (the capture held 80 MB before), and the
    # point's text is its last LOG_LIMIT characters behind the count of those cut
    assert grown < 20_000_000
    total = 80_000 * 1024 + len("the end\n")
    last = "".join(f"{i:08d}" + "y" * 1015 + "\n" for i in range(79_995, 80_000)) + "the end\n"
    assert text == f"[{total - LOG_LIMIT:,} earlier characters cut]\n" + last[-LOG_LIMIT:]
    assert after is None
