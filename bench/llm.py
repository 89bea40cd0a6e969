"""LLM benchmarks (recorded in bench/RESULTS.md, section "LLM experiments"):

(a) one 200-point `ollama` shard against a loopback server that answers after 50 ms, per-shard
    concurrency 1 vs 16 (target >= 12x), runs interleaved, medians reported;
(b) the real model's tokens/s as sweep records it end to end (`e2e_tokens_per_s`: completion tokens
    over the call's wall time) beside what the server reports for generation alone (llama.cpp's
    `eval time` log line; llama-cpp-python sends no `timings`, so the row has no `tokens_per_s`).

    uv run python bench/llm.py shard
    SWEEP_LLM_URL=http://127.0.0.1:PORT uv run python bench/llm.py real   # server from scripts/llm-server.sh
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import tasks_for  # noqa: E402
from tests.llm_helpers import rows, run_llm  # noqa: E402

from sweep_contracts.experiments import Registry  # noqa: E402
from sweep_contracts.storage import MemoryStore  # noqa: E402
from sweep_worker.runner import WorkerDeps, process_event  # noqa: E402

SERVERS = Path(os.environ.get("SWEEP_LLM_CACHE", Path.home() / ".cache/sweep/llm")) / "server"


def shard_seconds(url: str, concurrency: int) -> float:
    payload = {
        "experiment": "ollama",
        "config": {"endpoint": url, "model": "m", "concurrency": concurrency, "temperature": 0.0},
        "grid": {"task_index": list(range(50))},
        "repeats": 4,
    }
    event = tasks_for(payload, f"bench-c{concurrency}").event(0)
    store = MemoryStore()
    deps = WorkerDeps(store=store, registry=Registry.default(), secrets=lambda names: dict.fromkeys(names, ""))
    started = time.perf_counter()
    outcome = process_event(event, deps)
    elapsed = time.perf_counter() - started
    if outcome["points_ok"] != 200:
        raise RuntimeError(f"the shard did not run every point: {outcome}")
    return elapsed


def shard() -> dict[str, Any]:
    times: dict[int, list[float]] = {1: [], 16: []}
    # The server runs in its own process, so its threads do not compete with the shard's for the GIL.
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.llm_fake", "0.05"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        url = (server.stdout.readline() if server.stdout else "").strip()
        for _ in range(2):
            for c in (1, 16):
                times[c].append(round(shard_seconds(url, c), 3))
    finally:
        server.terminate()
        server.wait(timeout=10)
    c1, c16 = statistics.median(times[1]), statistics.median(times[16])
    return {
        "points": 200,
        "server_delay_ms": 50,
        "concurrency_1_s": times[1],
        "concurrency_16_s": times[16],
        "speedup": round(c1 / c16, 1),
        "target": ">= 12x",
    }


_EVAL = re.compile(r"eval time =\s*([\d.]+) ms /\s*(\d+) (?:runs|tokens).*?([\d.]+) tokens per second")


def real() -> dict[str, Any]:
    url = os.environ["SWEEP_LLM_URL"]
    server_log = SERVERS / url.rstrip("/").rsplit(":", 1)[1] / "server.log"  # scripts/llm-server.sh's state per port
    before = server_log.read_text(errors="replace") if server_log.exists() else ""
    payload = {
        "experiment": "openai-chat",
        "config": {
            "endpoint": url,
            "model": "smollm2",
            "temperature": 0.0,
            "max_tokens": 48,
            "concurrency": 1,
            "tasks": "counting",
            "system": "Explain your counting step by step.",
        },
        "grid": {"task_index": list(range(8))},
    }
    _, got = run_llm(payload, MemoryStore(), key="")
    ok = [r for r in got if r["status"] == "ok"]
    log = server_log.read_text(errors="replace")[len(before) :] if server_log.exists() else ""
    server = [float(m.group(3)) for line in log.splitlines() if "prompt eval" not in line and (m := _EVAL.search(line))]
    recorded = [r["metrics"]["e2e_tokens_per_s"] for r in ok]
    return {
        "calls": len(got),
        "ok": len(ok),
        "completion_tokens_median": statistics.median(r["metrics"]["completion_tokens"] for r in ok),
        "latency_ms_median": round(statistics.median(r["metrics"]["latency_ms"] for r in ok), 1),
        "sweep_tokens_per_s_median": round(statistics.median(recorded), 1),
        "server_eval_tokens_per_s_median": round(statistics.median(server), 1) if server else None,
        "server_log_lines": len(server),
    }


if __name__ == "__main__":
    which = sys.argv[1:] or ["shard"]
    result = {name: {"shard": shard, "real": real}[name]() for name in which}
    print(json.dumps(result, indent=2))
    _ = rows  # re-exported helper, kept for interactive use
