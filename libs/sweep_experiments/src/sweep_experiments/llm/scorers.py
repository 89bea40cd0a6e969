"""Scorers turn a response and an expected answer into a score in [0, 1].

A scorer is a function `(output, expected, args) -> float` registered under the entry point group
`sweep.scorers`, so a package can add its own:

```toml
[project.entry-points."sweep.scorers"]
my-scorer = "my_package.scoring:score"
```
It may return `Scored(value, answer)` (a float that also carries what it read as the answer): the
answer goes into the row's `call_json` as `answer`, so a reader can audit every score.

Built in (they read the model's *final* answer, as Inspect's `match()` and lm-evaluation-harness's
`flexible-extract` do; each was checked against hand-labelled real replies, tests/golden/):

- `exact`: the output, surrounding whitespace stripped, equals `expected`.
- `normalized-exact`, `contains`: both sides lowercased, every character that is not a letter,
  digit or `_` (punctuation, markdown, quotes, symbols) replaced by a space, runs of whitespace
  collapsed; then equal, or `expected` found in the output on word boundaries.
- `regex`: `args.pattern` (default: `expected`) is searched in the output.
- `numeric`: a number within `args.tolerance` (default 1e-9) of `expected`. `args.extract`
  picks which number: `last` (default: the final answer), `first`, or `regex` (group 1 of the
  last match of `args.pattern`, which must have a capture group). Before reading, `**`/`__`
  and `*`/`_` around a number (markdown), the currency signs `$ € £`, and thousands separators
  (`1,024`) are dropped; a trailing `.` and `%` are not part of a number (`79.` and `79%` read 79);
  the words `zero` to `twenty`, `once`, `twice` and `thrice` read as numbers (`appears twice`
  reads 2).
- `json-valid`: the output, code fences stripped, parses as JSON; equal to `expected` when given.
- `choice`: the option letter A-J a reader would take: the last `answer is B` / `answer: B` /
  `option (B)`, else the last marked letter (`(B)`, `B)`, `**B**`, `B.` or `B:` opening a line)
  unless the reply only lists three or more options, else a reply that is only the letter; an
  uppercase `A` or `I` used as an article or pronoun (`A good choice`, `I think`) is never an
  answer. A reply with no letter that names an option's text (`The largest is 95.`) chooses that
  option when the item gives its `choices` (the built-in `multiple-choice` set does): the option
  whose text comes last.
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
EXTRACT = ("last", "first", "regex")
ANSWER_CHARS = 200
"""An answer longer than this is cut in `call_json` (the whole reply is in `output`)."""


class Scored(float):
    """A score that also carries the answer the scorer read (None: it found none)."""

    answer: str | None

    def __new__(cls, value: float, answer: str | None) -> Scored:
        scored = super().__new__(cls, value)
        scored.answer = None if answer is None else answer[:ANSWER_CHARS]
        return scored


_NUMBER = re.compile(r"(?:(?<![\w.])[-−])?\d+(?:\.\d+)?")
_NUMBER_MARKUP = re.compile(r"\*\*|__|(?<!\w)[*_](?=[-−]?\d)|(?<=\d)[*_](?!\w)|[$€£]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
# `choice`, in the order a reader looks: a stated answer, a marked letter, a reply that is only one.
_STATED = re.compile(r"(?i:answer|option|choice)(?:\s+is)?\s*[:=-]?\s*[(\[*_]*([A-J])(?![A-Za-z])")
_MARKED = re.compile(
    r"\(([A-J])\)|(?<![A-Za-z])([A-J])\)|\*\*([A-J])\*\*|__([A-J])__|^[\s*_]*([A-J])[.:](?!\w)", re.MULTILINE
)
_ONLY = re.compile(r"^[\s*_(\[]*([A-J])[\s*_)\].:]*$")
_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_TEENS = ("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_WORDS = {
    **{w: str(n) for n, w in enumerate((*_UNITS, *_TEENS, "twenty"))},
    "once": "1",
    "twice": "2",
    "thrice": "3",
}
_NUMBER_WORD = re.compile(rf"\b(?:{'|'.join(_WORDS)})\b", re.IGNORECASE)


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _last(pattern: Any, text: str) -> Any:
    """The last match of `pattern` (Python's `re` or RE2's, which share the interface) in `text`."""
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - the last match is the one wanted
        pass
    return found


def exact(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    answer = output.strip()
    return Scored(answer == str(expected).strip(), answer)


def normalized_exact(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    answer = _normalize(output)
    return Scored(answer == _normalize(str(expected)), answer)


def contains(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    wanted = _normalize(str(expected))
    found = f" {wanted} " in f" {_normalize(output)} "
    return Scored(found, wanted if found else None)


def regex(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    # a user's pattern runs on RE2, in linear time (no look-around or back-references): see `patterns`
    found = patterns.compile_user(str(args.get("pattern", expected)), "the pattern").search(output)
    return Scored(found is not None, None if found is None else found.group())


def _numbers_of(text: str) -> list[str]:
    plain = _THOUSANDS.sub("", _NUMBER_MARKUP.sub("", text))
    plain = _NUMBER_WORD.sub(lambda m: _WORDS[m.group().lower()], plain)
    return [n.replace("−", "-") for n in _NUMBER.findall(plain)]


def number_answer(output: str, args: Mapping[str, Any]) -> str | None:
    """The number `numeric` reads in `output` (as written, normalised), or None."""
    how = args.get("extract", "last")
    if how == "regex":
        found = _last(patterns.compile_user(str(args["pattern"]), "`scorer_args.pattern`", "numeric"), output)
        numbers = _numbers_of(found.group(1) or "") if found else []
        return numbers[-1] if numbers else None
    numbers = _numbers_of(output)
    if not numbers:
        return None
    return numbers[0] if how == "first" else numbers[-1]


def numeric(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    answer = number_answer(output, args)
    if answer is None:
        return Scored(0.0, None)
    return Scored(abs(float(answer) - float(expected)) <= float(args.get("tolerance", 1e-9)), answer)


def json_valid(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    try:
        value = json.loads(_FENCE.sub("", output.strip()))
    except ValueError:
        return Scored(0.0, None)
    return Scored(expected is None or value == expected, json.dumps(value, separators=(",", ":")))


def _letter(found: re.Match[str]) -> str:
    return next(g for g in found.groups() if g)


def _named_choice(output: str, choices: Mapping[str, Any]) -> str | None:
    """The letter of the option whose text the reply names last (word-bounded, normalised)."""
    text = f" {_normalize(output)} "
    ends = {}
    for letter, option in choices.items():
        wanted = _normalize(str(option))
        if wanted and (at := text.rfind(f" {wanted} ")) >= 0:
            ends[str(letter)] = at + len(wanted)
    return max(ends, key=lambda k: ends[k]) if ends else None


def choice_answer(output: str, choices: Mapping[str, Any] | None = None) -> str | None:
    """The option letter `choice` reads in `output`, or None."""
    if found := _last(_STATED, output):
        return _letter(found)
    marked = [_letter(m) for m in _MARKED.finditer(output)]
    if marked:
        return marked[-1] if len(set(marked)) < 3 else None  # three or more: a list of the options
    if found := _ONLY.match(output):
        return found.group(1)
    return _named_choice(output, choices) if choices else None


def choice(output: str, expected: Any, args: Mapping[str, Any]) -> float:
    choices = args.get("choices")
    answer = choice_answer(output, choices if isinstance(choices, Mapping) else None)
    return Scored(answer is not None and answer == str(expected).strip().upper(), answer)


def check_args(name: str, args: Mapping[str, Any]) -> None:
    """ValueError naming the argument, its value and the fix, for the built-in scorers' `scorer_args`."""
    if name == "numeric":
        how = args.get("extract", "last")
        if how not in EXTRACT:
            raise ValueError(f"`scorer_args.extract` is {how!r}; `numeric` takes one of: {', '.join(EXTRACT)}")
        tolerance = args.get("tolerance", 0)
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
            raise ValueError(f"`scorer_args.tolerance` is {tolerance!r}; give a number >= 0, e.g. 0.01")
    if name == "regex" or (name == "numeric" and args.get("extract") == "regex"):
        pattern = args.get("pattern")
        if pattern is None:
            if name == "numeric":
                raise ValueError(
                    "`scorer_args.extract: regex` needs `scorer_args.pattern` with a capture group, "
                    r"e.g. 'answer is (\S+)'"
                )
            return
        compiled = patterns.compile_user(str(pattern), "`scorer_args.pattern`", name)
        if name == "numeric" and compiled.groups < 1:
            raise ValueError(
                f"`scorer_args.pattern` {pattern!r} has no capture group; put the number's part in one, "
                r"e.g. 'answer is (\S+)'"
            )


@functools.cache
def registry() -> dict[str, Scorer]:
    return {ep.name: ep.load() for ep in entry_points(group=GROUP)}


def get(name: str) -> Scorer:
    """The scorer called `name`; ValueError lists the registered ones."""
    scorers = registry()
    if name not in scorers:
        raise ValueError(f"scorer {name!r} is not registered; registered scorers: {', '.join(sorted(scorers))}")
    return scorers[name]
