"""Scorers turn a response and an expected answer into a score in [0, 1].

A scorer is a function `(output, expected, args) -> float` registered under the entry point group
`sweep.scorers`, so a package can add its own:

```toml
[project.entry-points."sweep.scorers"]
my-scorer = "my_package.scoring:score"
```
Built in: `exact`, `normalized-exact`, `contains`, `regex` (expected, or `args.pattern`, is a
pattern searched in the output), `numeric` (first number in the output within `args.tolerance`,
default 1e-9), `json-valid` (the output, code fences stripped, parses as JSON; equal to
`expected` when that is given), `choice` (the first standalone letter A-J is the expected one).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from sweep_experiments.llm import patterns

GROUP = "sweep.scorers"
Scorer = Callable[[str, Any, Mapping[str, Any]], float]

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_LETTER = re.compile(r"(?<![A-Za-z])([A-J])(?![A-Za-z])")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def exact(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    return float(output.strip() == str(expected).strip())


def normalized_exact(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    return float(_normalize(output) == _normalize(str(expected)))


def contains(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    return float(_normalize(str(expected)) in _normalize(output))


def regex(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    # a user's pattern runs on RE2, in linear time (no look-around or back-references): see `patterns`
    return float(patterns.search(str(args.get("pattern", expected)), output))


def numeric(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    found = _NUMBER.search(output.replace(",", ""))
    if found is None:
        return 0.0
    return float(abs(float(found.group()) - float(expected)) <= float(args.get("tolerance", 1e-9)))


def json_valid(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    try:
        value = json.loads(_FENCE.sub("", output.strip()))
    except ValueError:
        return 0.0
    return float(expected is None or value == expected)


def choice(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    found = _LETTER.search(output.strip())
    return float(found is not None and found.group(1) == str(expected).strip().upper())


@functools.cache
def registry() -> dict[str, Scorer]:
    return {ep.name: ep.load() for ep in entry_points(group=GROUP)}


def get(name: str) -> Scorer:
    """The scorer called `name`; ValueError lists the registered ones."""
    scorers = registry()
    if name not in scorers:
        raise ValueError(f"scorer {name!r} is not registered; registered scorers: {', '.join(sorted(scorers))}")
    return scorers[name]
