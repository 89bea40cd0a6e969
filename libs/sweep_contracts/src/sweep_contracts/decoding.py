"""Decoding a request document (a JSON body, a YAML file's tree) into plain JSON values, within bounds.

Every bound is checked before the expensive step it protects: bytes before parsing, nesting before
the recursive parser runs, integer digits before `int()` converts them. What passes holds only
`dict` (with `str` keys), `list`, `str`, `int`, `float`, `bool` and `None`, nested at most
`MAX_DEPTH` deep, each key given once — the same for JSON and YAML.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

from sweep_contracts.errors import LimitExceededError, RequestError
from sweep_contracts.validation import field_path

MAX_DEPTH = 32
"""Most nesting levels of a request; a sweep needs about six, a config a few more."""

MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300
"""Python converts integers of at most this many digits from text (its int-str limit)."""

_STRUCTURE = re.compile(r'[\[\]{}"\\]')


class Invalid:
    """Stands in for a value the parser could not accept, so the walk can name its field."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def parse_int(text: str) -> int | Invalid:
    """`int(text)`, or an `Invalid` when `text` is over Python's int-str digit limit."""
    digits = len(text.lstrip("+-").replace("_", ""))
    if digits > MAX_INT_DIGITS:
        return Invalid(f"an integer of {digits:,} digits is over the limit of {MAX_INT_DIGITS:,} digits")
    return int(text)


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def check_depth(text: str) -> None:
    """Refuse JSON text nested deeper than `MAX_DEPTH` before a recursive parser sees it."""
    depth, in_string, skip_to = 0, False, -1
    for match in _STRUCTURE.finditer(text):
        char, at = match.group(), match.start()
        if at < skip_to:
            continue
        if in_string:
            if char == "\\":
                skip_to = at + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise nesting_error("body", _where(text, at))
        elif char in "]}":
            depth -= 1


def nesting_error(field: str, where: str, noun: str = "request body") -> RequestError:
    return RequestError(
        f"the {noun} nests lists and mappings more than {MAX_DEPTH} levels deep (at {where}).",
        field=field,
        limit=MAX_DEPTH,
        hint=f"a sweep request needs only a few levels; flatten the nested value to at most {MAX_DEPTH} levels.",
    )


def check_size(size: int, limit: int) -> None:
    """Refuse a request over `max_request_bytes` before anything parses it."""
    if size > limit:
        raise LimitExceededError(
            f"the request is {size:,} bytes, over the limit of {limit:,}.",
            field="request",
            value=size,
            limit=limit,
            hint="every shard task carries the request: describe points with `grids` or `sample` "
            "rather than long `points` lists, or split the sweep into several runs.",
        )


def decode_utf8(data: bytes, what: str = "request body", field: str = "body") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(
            f"the {what} is not UTF-8 text: byte {exc.start} is {data[exc.start : exc.start + 1]!r}.",
            field=field,
            value=exc.start,
            hint="send the sweep as UTF-8 encoded JSON (save the file as UTF-8).",
        ) from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A duplicate key's value becomes the `Invalid`, so the error names that key as the field.
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            mapping[key] = Invalid(f"key `{key}` is given twice; give each key once")
            break
        mapping[key] = value
    return mapping


def loads_json(data: bytes | str) -> Any:
    """Parse a JSON document strictly: UTF-8, bounded nesting and digits, no duplicate keys, no NaN."""
    text = decode_utf8(data) if isinstance(data, bytes) else data
    check_depth(text)
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_int=parse_int, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"the request body is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            field="body",
            hint="send the sweep as a JSON object with Content-Type: application/json.",
        ) from None
    check_values(value)
    return value


def _constant(name: str) -> Invalid:
    return Invalid(f"`{name}` is not a JSON number; use a finite number")


_SCALARS = (str, int, float, bool, type(None))


def check_values(value: Any, loc: tuple[int | str, ...] = ()) -> None:
    """Raise a `RequestError` naming the first field whose value JSON cannot carry."""
    problem = next(_problems(value, loc), None)
    if problem is not None:
        where, message = problem
        field = field_path(where)
        raise RequestError(
            f"`{field}`: {message}.",
            field=field,
            hint="correct the field named above; a sweep holds JSON values: mappings with text keys, "
            "lists, text, numbers, true/false and null.",
        )


def _problems(value: Any, loc: tuple[int | str, ...]) -> Iterator[tuple[tuple[int | str, ...], str]]:
    if len(loc) > MAX_DEPTH:
        yield loc, f"nested more than {MAX_DEPTH} levels deep"
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                yield loc, f"key {key!r} is {type(key).__name__}, not text; quote it"
            elif not _is_text(key):
                yield loc, "a key holds a lone UTF-16 surrogate, which is not text"
            yield from _problems(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _problems(item, (*loc, index))
    else:
        message = _scalar_problem(value)
        if message:
            yield loc, message


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, Invalid):
        return value.message
    if isinstance(value, str):
        return None if _is_text(value) else "holds a lone UTF-16 surrogate, which is not text"
    if isinstance(value, _SCALARS):
        return None
    return f"{value!r} is a {type(value).__name__}, which JSON cannot carry; quote it to make it text"


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
