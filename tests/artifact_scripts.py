"""Scripts an isolated interpreter runs from an unzipped Lambda artifact (the packaging tests)."""

from __future__ import annotations

# argv: the unzipped artifact's directory, then the shard task as JSON; prints the handler's answer
RUN_WORKER_HANDLER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from sweep_worker.handler import handler

class Context:
    aws_request_id, function_name, memory_limit_in_mb, invoked_function_arn = "artifact", "w", 128, "arn"

    def get_remaining_time_in_millis(self):
        return 60_000

print(json.dumps(handler(json.loads(sys.argv[2]), Context())))
"""
