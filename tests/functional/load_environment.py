"""One Lambda execution environment for the load test: a process that handles its share of the
`POST /runs` requests one at a time, as Lambda does (one event per environment at a time), against
a moto server, then delivers the shard tasks it dispatched. Writes the answers as JSON to ANSWERS.json.

Run by `test_load.py` only: `python -m tests.functional.load_environment REQUESTS.json ANSWERS.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.cloud import make_stage


def main(path: str, out: str) -> None:
    stage = make_stage(create_bucket=False)
    answers = [stage.call("POST", "/runs", payload) for payload in json.loads(Path(path).read_text())]
    stage.run_all()
    Path(out).write_text(json.dumps(answers))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
