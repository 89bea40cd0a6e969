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

# Defines `without_bytecode(root)`: the modules imported so far from files under `root` that Python
# compiled from source because no pyc of this interpreter matches them. A checked- or unchecked-hash pyc
# matches when it holds the source's hash, a timestamp pyc when it holds the source's mtime and size.
WITHOUT_BYTECODE = """
import importlib.util, os, sys

def _matches(origin, cached):
    try:
        with open(cached, "rb") as pyc:
            header = pyc.read(16)
    except OSError:
        return False
    if header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if int.from_bytes(header[4:8], "little") & 1:
        with open(origin, "rb") as source:
            return header[8:16] == importlib.util.source_hash(source.read())
    stat = os.stat(origin)
    return header[8:16] == (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (
        stat.st_size & 0xFFFFFFFF
    ).to_bytes(4, "little")

def without_bytecode(root):
    root = os.path.realpath(root) + os.sep
    found = []
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        origin = getattr(spec, "origin", None) or ""
        if origin.endswith(".py") and os.path.realpath(origin).startswith(root):
            if not (spec.cached and _matches(origin, spec.cached)):
                found.append(name)
    return sorted(found)
"""
