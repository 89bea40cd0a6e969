"""A client of bench/status.py: answers GET /runs/{id} for the big run as the orchestrator of the
source tree it runs on does (`api.get_run`: the manifest, then the outcome reader's status), on
one S3 client, and keeps what the orchestrator keeps between polls of a warm container. Each
`poll` line on stdin is answered with one JSON line: requests made, wall and CPU seconds, counts.

    python bench/status_client.py URL BUCKET    (started by bench/status.py)
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from typing import Any

RUN = "big-run"  # tests/big_run.py's; not imported, as that module follows this checkout's tree
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


def main(url: str, bucket: str) -> None:
    import logging

    from sweep_aws.clients import s3_client
    from sweep_aws.s3 import S3Store
    from sweep_orchestrator import runs
    from sweep_orchestrator.status import OutcomeReader

    logging.getLogger("sweep").setLevel(logging.WARNING)
    requests: list[str] = []
    client: Any = s3_client(endpoint_url=url, **CREDENTIALS)
    client.meta.events.register("before-send.s3", lambda request, **_: requests.append(request.method))
    store = S3Store(bucket, client=client)
    reader = OutcomeReader(store)
    cache = getattr(runs, "ManifestCache", None)  # a tree from before the cache loads every time
    load = cache(store).load if cache is not None else partial(runs.load_manifest, store)
    for line in sys.stdin:
        if line.strip() != "poll":
            continue
        requests.clear()
        cpu, started = time.process_time(), time.perf_counter()
        status = reader.status(RUN, load(RUN))
        wall = time.perf_counter() - started
        answer = {
            "requests": len(requests),
            "wall_s": wall,
            "cpu_s": time.process_time() - cpu,
            "points_ok": status.points_ok,
            "points_error": status.points_error,
            "failures_not_read": status.failures_not_read,
        }
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
