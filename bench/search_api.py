"""A search through the stage's API on the moto stage (in process, no injected latency): how long
POST /runs of a search takes warm and how many S3 requests it makes, and GET /runs/{search} of a
finished search read afresh (before) and through the warm orchestrator's outcome reader (after),
in the same run. Figures in bench/RESULTS.md ("Issue 25: a search on a stage").

    PYTHONPATH=. uv run --frozen python bench/search_api.py [TRIALS ...]   # default: 12 40
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")  # moto's: nothing is sent anywhere
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from moto import mock_aws
from tests.cloud import make_stage
from tests.functional.test_cloud_search_api import BODY, ID, settle

from sweep_orchestrator import deps
from sweep_orchestrator.search.progress import search_status
from sweep_orchestrator.search.rounds import load_search
from sweep_orchestrator.status import OutcomeReader

REPEATS = 5


def measure(trials: int) -> dict[str, Any]:
    with mock_aws():
        stage = make_stage()
        requests = {"s3": 0}
        stage.s3.meta.events.register("before-send.s3", lambda **_: requests.__setitem__("s3", requests["s3"] + 1))
        body = {**BODY, "search": {**BODY["search"], "budget": {"trials": trials}}}
        stage.call("POST", "/runs", {**body, "run_id": "warm-up"})  # imports, settings: a cold container's
        stage.invokes.take()
        posts = []
        for i in range(REPEATS):
            requests["s3"] = 0
            start = time.perf_counter()
            stage.call("POST", "/runs", {**body, "run_id": f"post-{i}"})
            posts.append(time.perf_counter() - start)
            stage.invokes.take()
        post_requests = requests["s3"]
        stage.call("POST", "/runs", body)
        settle(stage, limit=10_000)
        rt = deps.current().runtime
        search = load_search(rt, ID)
        reader = OutcomeReader(stage.store)
        search_status(rt, search, outcomes=reader)  # the first poll fills the warm reader
        polls: dict[str, tuple[float, int]] = {}
        for name, kwargs in (("afresh", {}), ("warm", {"outcomes": reader})):
            times = []
            for _ in range(REPEATS):
                requests["s3"] = 0
                start = time.perf_counter()
                answer = search_status(rt, search, **kwargs)
                times.append(time.perf_counter() - start)
            polls[name] = (statistics.median(times), requests["s3"])
        return {
            "trials": trials,
            "rounds": len(answer.rounds),
            "post_ms": statistics.median(posts) * 1000,
            "post_s3": post_requests,
            "status_afresh_ms": polls["afresh"][0] * 1000,
            "status_afresh_s3": polls["afresh"][1],
            "status_warm_ms": polls["warm"][0] * 1000,
            "status_warm_s3": polls["warm"][1],
        }


def main() -> None:
    for trials in [int(a) for a in sys.argv[1:]] or [12, 40]:
        r = measure(trials)
        print(
            f"{r['trials']} trials in {r['rounds']} rounds of 4: POST /runs {r['post_ms']:.0f} ms, {r['post_s3']} S3 "
            f"request(s); GET status afresh {r['status_afresh_ms']:.0f} ms, {r['status_afresh_s3']} S3 requests; "
            f"warm {r['status_warm_ms']:.0f} ms, {r['status_warm_s3']} S3 requests (medians of {REPEATS})"
        )


if __name__ == "__main__":
    main()
