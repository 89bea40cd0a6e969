"""Contract models are built on their first use (`defer_build`, issue 13: a worker imports every
one and validates a few). A cold orchestrator's first uses can be concurrent (status reads outcomes
on a thread pool): the first validations in many threads at once must all see the built model,
which pydantic guarantees from the version `pyproject.toml` requires (its rebuild lock)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, threading
from sweep_contracts.settings import SystemSettings

assert not SystemSettings.__pydantic_complete__, "the model was built at import"
barrier = threading.Barrier(16)
answers, errors = [], []

def first_use():
    barrier.wait()
    try:
        answers.append(SystemSettings.resolve({"shard_size": 7}, source="file", strict=True).shard_size)
    except Exception as exc:  # a half-built model answers with a validation error
        errors.append(repr(exc))

threads = [threading.Thread(target=first_use) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"answers": answers, "errors": errors}))
"""


def test_the_first_validations_in_many_threads_at_once_all_succeed() -> None:
    # GIVEN a fresh interpreter, where no contract model is built yet
    # WHEN 16 threads validate settings at the same moment, each the model's first use
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(done.stdout.splitlines()[-1])
    # THEN every one gets the validated value, none a spurious error
    assert result == {"answers": [7] * 16, "errors": []}
