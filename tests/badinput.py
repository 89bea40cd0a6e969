"""Generators of bad sweep requests (API bodies and sweep files), and the tally of how each was answered.

Each strategy yields `(kind, data)`: the kind names the family of input so a tally can say how every
family was answered; `data` is the bytes to send or write.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

VALID: dict[str, Any] = {
    "experiment": "synthetic",
    "config": {"x": 0.1, "y": 0.2},
    "grid": {"x": [0.1, 0.2]},
    "repeats": 2,
}
"""A request the stage accepts; most bad requests are this one broken in one place."""

REQUEST_FIELDS = ("experiment", "run_id", "description", "config", "grid", "grids", "points", "sample", "repeats")

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """The valid request with one field replaced, removed or added."""
    request = json.loads(json.dumps(VALID))
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    name = draw(st.sampled_from(REQUEST_FIELDS))
    if action == "replace":
        request[name] = draw(json_values)
    elif action == "remove":
        request.pop(name, None)
    else:
        request[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    return f"mutated field ({action})", _dump(request)


def _with(field: str, literal: str) -> bytes:
    """The valid request with `field` set to a raw JSON literal (which `json.dumps` could not write)."""
    body = json.dumps({k: v for k, v in VALID.items() if k != field})
    return f'{body[:-1]}, "{field}": {literal}}}'.encode()


@st.composite
def _huge_int(draw: st.DrawFn) -> tuple[str, bytes]:
    digits = draw(st.integers(min_value=4_301, max_value=20_000))
    field = draw(st.sampled_from(["repeats", "shard_size", "config"]))
    literal = "1" * digits if field != "config" else '{"x": ' + "9" * digits + "}"
    return "integer over 4,300 digits", _with(field, literal)


@st.composite
def _deep(draw: st.DrawFn) -> tuple[str, bytes]:
    depth = draw(st.integers(min_value=33, max_value=3_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a": ', "}")]))
    inner = opener * depth + "1" + closer * depth
    where = draw(st.sampled_from(["body", "config"]))
    return "nested too deep", inner.encode() if where == "body" else _with("config", '{"x": ' + inner + "}")


@st.composite
def _run_id(draw: st.DrawFn) -> tuple[str, bytes]:
    good = draw(st.from_regex(r"[a-z0-9][a-z0-9-]{2,20}", fullmatch=True))
    bad = draw(
        st.sampled_from([good + "\n", good + "\r\n", "\n" + good, good.upper() + "X", good + " ", "ab", "x" * 64])
        | st.text(max_size=70).filter(lambda s: s != s.strip() or not s.isascii() or not s)
    )
    return "bad run_id", _dump({**VALID, "run_id": bad})


@st.composite
def _distribution(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["uniform", "loguniform", "normal", "randint"]))
    big = st.sampled_from(["1e308", "-1e308", "1.7976931348623157e308", "1e400", "-1e400", "1" + "0" * 400])
    lo = draw(big | st.sampled_from(["0", "-1", "1"]))
    hi = draw(big)
    sample = f'{{"n": 3, "seed": 1, "space": {{"x": {{"{kind}": [{lo}, {hi}]}}}}}}'
    return "distribution bounds beyond float range", _with("sample", sample).replace(
        b'"grid": {"x": [0.1, 0.2]}, ', b""
    )


@st.composite
def _coercion(draw: st.DrawFn) -> tuple[str, bytes]:
    field = draw(st.sampled_from(["repeats", "shard_size", "experiment", "run_id", "description"]))
    ints = field in ("repeats", "shard_size")
    value = draw(
        st.sampled_from(['"2"', "true", "false", "2.0", '"3 "']) if ints else st.sampled_from(["1", "true", "[]", "{}"])
    )
    return "value of the wrong type", _with(field, value)


@st.composite
def _duplicate_key(draw: st.DrawFn) -> tuple[str, bytes]:
    field = draw(st.sampled_from(["experiment", "repeats", "config"]))
    value = json.dumps(VALID[field])
    where = draw(st.sampled_from(["top", "config"]))
    if where == "config":
        return "key given twice", _with("config", '{"x": 1, "y": 2, "x": 3}')
    return "key given twice", _with(field, value).replace(b"{", f'{{"{field}": {value}, '.encode(), 1)


@st.composite
def _text_damage(draw: st.DrawFn) -> tuple[str, bytes]:
    body = _dump(VALID)
    cut = draw(st.integers(min_value=0, max_value=len(body) - 1))
    junk = draw(st.binary(max_size=6))
    return "damaged JSON text", body[:cut] + junk + body[cut + draw(st.integers(0, 3)) :]


@st.composite
def _surrogate(draw: st.DrawFn) -> tuple[str, bytes]:
    escape = draw(st.sampled_from(["\\ud800", "\\udfff", "\\udc00x"]))
    field = draw(st.sampled_from(["description", "run_id", "config"]))
    literal = f'"{escape}"' if field != "config" else f'{{"x": 1, "n{escape}": 2}}'
    return "lone surrogate in text", _with(field, literal)


@st.composite
def _special_numbers(draw: st.DrawFn) -> tuple[str, bytes]:
    literal = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]))
    return "NaN or infinity", _with("config", f'{{"x": {literal}}}')


api_bodies = st.one_of(
    st.binary(max_size=200).map(lambda b: ("random bytes", b)),
    st.builds(lambda v: ("JSON that is not a request", _dump(v)), json_values),
    _mutated(),
    _huge_int(),
    _deep(),
    _run_id(),
    _distribution(),
    _coercion(),
    _duplicate_key(),
    _text_damage(),
    _surrogate(),
    _special_numbers(),
)
"""Bad (or damaged) `POST /runs` bodies, each with its kind."""

bad_base64 = st.text(min_size=1, max_size=60).filter(lambda s: not _is_base64(s))


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


class Tally:
    """How each kind of input was answered: kind -> Counter of answers (e.g. `400 INVALID_REQUEST`)."""

    def __init__(self) -> None:
        self.answers: dict[str, Counter[str]] = {}

    def add(self, kind: str, answer: str) -> None:
        self.answers.setdefault(kind, Counter())[answer] += 1

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.answers.values())

    def markdown(self, title: str) -> str:
        lines = [f"{title}: {self.total:,} inputs", "", "| kind | tried | answered |", "| --- | ---: | --- |"]
        for kind, counts in sorted(self.answers.items()):
            answered = ", ".join(f"{answer} × {n:,}" for answer, n in counts.most_common())
            lines.append(f"| {kind} | {sum(counts.values()):,} | {answered} |")
        return "\n".join(lines)

    def write(self, path: Path, title: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown(title) + "\n")


VALID_YAML = """experiment: synthetic
config: {x: 0.1, y: 0.2}
grid:
  x: [0.1, 0.2]
repeats: 2
"""
"""A sweep file `sweep plan` accepts; most bad files are this one broken in one place."""


def _yaml_with(line: str) -> bytes:
    """The valid file with one top-level line replaced or added (YAML refuses the key given twice)."""
    key = line.split(":", 1)[0]
    kept = [kept for kept in VALID_YAML.splitlines() if not kept.startswith(f"{key}:")]
    if key == "grid":
        kept = [k for k in kept if not k.startswith("  ")]
    return ("\n".join(kept) + "\n" + line + "\n").encode()


@st.composite
def _alias_bomb(draw: st.DrawFn) -> tuple[str, bytes]:
    fan = draw(st.integers(min_value=4, max_value=12))
    levels = draw(st.integers(min_value=5, max_value=12))
    lines = [f"a0: &a0 [{', '.join(['x'] * fan)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]" for i in range(1, levels)]
    where = draw(st.sampled_from(["top", "config"]))
    text = "\n".join(lines) + "\n"
    if where == "config":
        text = VALID_YAML.replace("config: {x: 0.1, y: 0.2}", "config:\n  " + "\n  ".join(lines))
    return "alias bomb", text.encode()


@st.composite
def _yaml_deep(draw: st.DrawFn) -> tuple[str, bytes]:
    depth = draw(st.integers(min_value=33, max_value=60_000))
    style = draw(st.sampled_from(["flow list", "flow map", "block map"]))
    if style == "flow list":
        value = "[" * depth + "1" + "]" * depth
    elif style == "flow map":
        value = "{a: " * depth + "1" + "}" * depth
    else:
        depth = min(depth, 3_000)
        value = "\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth)) + "  " * (depth + 1) + "1"
    return f"nested too deep ({style})", f"experiment: synthetic\nconfig: {value}\n".encode()


@st.composite
def _yaml_block_run_id(draw: st.DrawFn) -> tuple[str, bytes]:
    indicator = draw(st.sampled_from(["|", "|+", ">", ">+", '"abc\\n"', "'abc\n\n  '"]))
    name = draw(st.from_regex(r"[a-z0-9][a-z0-9-]{2,20}", fullmatch=True))
    value = f"{indicator}\n  {name}" if indicator[0] in "|>" else indicator
    return "run_id with a line break", _yaml_with(f"run_id: {value}")


@st.composite
def _yaml_digits(draw: st.DrawFn) -> tuple[str, bytes]:
    digits = draw(st.integers(min_value=4_301, max_value=20_000))
    field = draw(st.sampled_from(["repeats", "shard_size", "config"]))
    literal = "7" * digits
    line = f"config: {{x: {literal}}}" if field == "config" else f"{field}: {literal}"
    return "integer over 4,300 digits", _yaml_with(line)


_YAML_LINES = {
    "collection used as a key": ["{a: 1}: 2", "[a, b]: 2", "? {a: 1}\n: 2", "config: {[1, 2]: x}"],
    "key that is not text": ["1: 2", "config: {1: a}", "true: 1", "config: {null: 1, x: 1}", "2024-01-01: x"],
    "value JSON cannot carry": [
        "config: {x: 2024-01-01}",
        "config: {x: !!binary aGVsbG8=}",
        "config: {x: !!set {a, b}}",
        "description: 2001-12-14t21:59:43.10-05:00",
        "config: {x: !!python/object:object {}}",
        "config: {x: .nan}",
        "config: {x: -.inf}",
        "config: {x: 1e400}",
    ],
    "value of the wrong type": [
        'repeats: "2"',
        "repeats: true",
        "repeats: yes",
        "repeats: 2.0",
        "shard_size: '5'",
        "experiment: 1",
        "run_id: 123",
        "description: [a]",
    ],
    "distribution bounds beyond float range": [
        "sample: {n: 3, space: {x: {uniform: [-1e308, 1e308]}}}",
        "sample: {n: 3, space: {x: {randint: [0, 1" + "0" * 400 + "]}}}",
        "sample: {n: 3, space: {x: {normal: [1e308, 1e308]}}}",
        "sample: {n: 3, space: {x: {loguniform: [1e-320, 1e308]}}}",
        "sample: {n: 3, space: {x: {uniform: [0, 1e400]}}}",
    ],
    "key given twice": ["config: {x: 1, x: 2}", "grid: {x: [1], x: [2]}"],
    "several documents": ["---\nexperiment: synthetic\n---\nexperiment: maze"],
}


@st.composite
def _yaml_line(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(_YAML_LINES)))
    return kind, _yaml_with(draw(st.sampled_from(_YAML_LINES[kind])))


@st.composite
def _yaml_damage(draw: st.DrawFn) -> tuple[str, bytes]:
    text = VALID_YAML.encode()
    cut = draw(st.integers(min_value=0, max_value=len(text) - 1))
    junk = draw(st.binary(max_size=6) | st.sampled_from([b"&", b"*x", b"!!", b"? ", b"{", b"[", b"\t", b"%YAML 9\n"]))
    return "damaged YAML text", text[:cut] + junk + text[cut + draw(st.integers(0, 3)) :]


@st.composite
def _yaml_mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(REQUEST_FIELDS))
    return "mutated field", _yaml_with(f"{name}: {json.dumps(draw(json_values))}")


sweep_files = st.one_of(
    st.binary(max_size=200).map(lambda b: ("random bytes", b)),
    st.sampled_from([b"", b"~", b"[]", b"42", b"- a\n- b\n", b"\xef\xbb\xbf", b"\xff\xfe\x00"]).map(
        lambda b: ("not a mapping, empty or not UTF-8", b)
    ),
    _alias_bomb(),
    _yaml_deep(),
    _yaml_block_run_id(),
    _yaml_digits(),
    _yaml_line(),
    _yaml_damage(),
    _yaml_mutated(),
)
"""Bad (or damaged) sweep files, each with its kind."""
