"""Record the golden corpus of real model replies that the built-in scorers are checked against.

    scripts/llm-server.sh start 18431
    uv run --frozen python tests/golden/record.py http://127.0.0.1:18431

Sends the built-in task sets' items to the server (SmolLM2-135M-Instruct from scripts/llm-server.sh)
under each profile below and appends every reply to tests/golden/replies.jsonl with
`verdict: null`. A person then labels each new line by reading the reply (see
tests/golden/README.md); a line whose prompt and reply are already in the file keeps its labels,
so re-recording never relabels. Requests go only to the URL given (loopback).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from sweep_experiments.llm import tasks

OUT = Path(__file__).with_name("replies.jsonl")
TERSE = "Reply with the answer only."
CHATTY = "You are a friendly tutor. Explain your reasoning briefly, then state the final answer."
STEPS = "Think step by step and show your work. End with: The answer is <answer>."
EXAMPLE = "You are a calculator. Reply with the number only."  # examples/llm-local.yaml
SETS = ("arithmetic", "counting", "multiple-choice")

# (name, task sets, system, options, task indexes, seeds)
PROFILES: list[tuple[str, tuple[str, ...], str | None, dict[str, Any], range, tuple[int, ...]]] = [
    *(
        (f"{style}-t{t}", SETS, system, {"temperature": t, "max_tokens": n}, range(14), (0,))
        for style, system, n in (("terse", TERSE, 16), ("chatty", CHATTY, 80))
        for t in (0.0, 0.7)
    ),
    *(
        (
            f"example-t{t}",
            ("arithmetic",),
            EXAMPLE,
            {"temperature": t, "max_tokens": 16, "top_p": 0.95, "top_k": 40, "repeat_penalty": 1.1},
            range(10),
            (0, 1),
        )
        for t in (0.0, 0.7)
    ),
    *((f"none-t{t}", SETS, None, {"temperature": t, "max_tokens": 32}, range(14, 28), (0,)) for t in (0.0, 0.7)),
    ("steps-t0.7", SETS, STEPS, {"temperature": 0.7, "max_tokens": 96}, range(14), (0,)),
    ("chatty-t0.7", SETS, CHATTY, {"temperature": 0.7, "max_tokens": 80}, range(14, 28), (1,)),
]


def main(url: str) -> None:
    known = {}
    if OUT.exists():
        for line in OUT.read_text().splitlines():
            record = json.loads(line)
            known[(json.dumps(record["messages"]), record["reply"])] = record
    added = 0
    with httpx.Client(base_url=url, timeout=300) as client, OUT.open("a") as out:
        for profile, sets, system, options, indexes, seeds in PROFILES:
            for name in sets:
                items = tasks.builtin(name)
                for index in indexes:
                    for seed in seeds:
                        messages = items[index].chat_messages(None, system)
                        body = {"model": "smollm2", "messages": messages, "seed": seed, "n": 1, **options}
                        started = time.monotonic()
                        reply = client.post("/v1/chat/completions", json=body).raise_for_status().json()
                        text = reply["choices"][0]["message"]["content"] or ""
                        if (json.dumps(messages), text) in known:
                            continue
                        record = {
                            "profile": profile,
                            "set": name,
                            "task_index": index,
                            "seed": seed,
                            "options": options,
                            "messages": messages,
                            "reply": text,
                            "finish_reason": reply["choices"][0].get("finish_reason"),
                            "expected": items[index].expected,
                            "choices": items[index].choices,
                            "scorer": tasks.DEFAULT_SCORER[name],
                            "verdict": None,
                            "bare": None,
                            "note": "",
                        }
                        known[(json.dumps(messages), text)] = record
                        out.write(json.dumps(record) + "\n")
                        out.flush()
                        added += 1
                        print(f"{profile} {name}[{index}] seed {seed}: {time.monotonic() - started:.1f}s {text[:60]!r}")
    print(f"{added} new replies in {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
