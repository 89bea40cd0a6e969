"""Peak memory of the orchestrator's validation of the largest task set allowed (issue 20, item 3;
target: at most half the orchestrator's 512 MB, 256 MB).

Each measurement runs in a fresh process, as a cold orchestrator would: S3 in moto holds a set of
just under `remote.MAX_BYTES` under `tasksets/` (small items, the costliest shape to parse: ~100
bytes a line), the process is told it runs on a stage (its environment, as Lambda and the stack
set it), and the submit-time check of a `POST /runs` config naming the set runs (`check_request`,
the first and the last `task_index`). Reported: how far the process's peak resident set
(`VmHWM`, reset just before through `/proc/self/clear_refs`) rose over its resident set before
the check, and the check's wall time; then the same check again in the warm process (the cache).

    uv run python bench/taskset_memory.py
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
BUCKET = "sweep-bench-tasksets"


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _task_set(size: int) -> bytes:
    lines, total, n = [], 0, 0
    while True:
        a, b = n % 97, n % 89
        line = (
            json.dumps(
                {
                    "messages": [{"role": "user", "content": f"What is {a} + {b}? Answer with the number only."}],
                    "expected": str(a + b),
                }
            ).encode()
            + b"\n"
        )
        if total + len(line) > size:
            return b"".join(lines)
        lines.append(line)
        total += len(line)
        n += 1


def child() -> dict[str, Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ[name] = value
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "sweep-bench-orchestrator"
    os.environ["SWEEP_STORE"] = f"s3://{BUCKET}"
    import boto3
    from moto import mock_aws

    from sweep_contracts.experiments import Registry
    from sweep_contracts.request import parse_request
    from sweep_experiments.llm import remote

    with mock_aws():
        data = _task_set(remote.MAX_BYTES - MIB)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="tasksets/big.jsonl", Body=data)
        items = data.count(b"\n")
        size, digest = len(data), hashlib.sha256(data).hexdigest()
        del data
        experiment = Registry.default().get("ollama")
        request = parse_request(
            {
                "experiment": "ollama",
                "config": {
                    "endpoint": "http://127.0.0.1:9",
                    "model": "m",
                    "tasks": f"s3://{BUCKET}/tasksets/big.jsonl",
                    "tasks_sha256": digest,
                },
                "grid": {"task_index": [0, items - 1]},
            }
        )
        runs = []
        for _ in range(2):  # cold, then warm
            gc.collect()
            before = _status_kib("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            started = time.perf_counter()
            experiment.check_request(request)
            seconds = time.perf_counter() - started
            runs.append(
                {"peak_growth_mb": round((_status_kib("VmHWM") - before) / 1024, 1), "seconds": round(seconds, 2)}
            )
    return {"set_bytes": size, "set_mib": round(size / MIB, 1), "items": items, "cold": runs[0], "warm": runs[1]}


def main() -> None:
    if sys.argv[1:] == ["--child"]:
        print(json.dumps(child()))
        return
    answer = subprocess.run(
        [sys.executable, __file__, "--child"], capture_output=True, text=True, check=False, timeout=600, cwd=ROOT
    )
    if answer.returncode != 0:
        sys.exit(f"the measuring process failed ({answer.returncode}):\n{answer.stderr[-4000:]}")
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
