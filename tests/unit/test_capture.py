"""A point's output is captured per point, also when points run on threads (issue 12)."""

from __future__ import annotations

import logging
import sys
import threading

from sweep_contracts.schema import LOG_LIMIT
from sweep_worker.capture import capture


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
