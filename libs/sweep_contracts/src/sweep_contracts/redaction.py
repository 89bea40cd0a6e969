"""Secret values out of stored text: redact first, then cut.

A value is replaced wherever it appears whole. A cut made after redaction cannot leave part of a
key; a cut made before it (by code that did not know the key) can: a head cut (`text[:n]`,
`truncate`) leaves a prefix at the end, a tail cut (`clip_log`) a suffix at the start. So a
fragment of at least `MIN_FRAGMENT` characters of a value is redacted too where such a cut puts
it: a prefix ending the text (before a `…` at most), a suffix starting it (after a cut notice at
most). Fragments elsewhere are left alone: a reply that merely shares four characters with a key
is the researcher's data."""

from __future__ import annotations

import re
from collections.abc import Mapping

MIN_FRAGMENT = 4
"""Shortest part of a key redacted where a cut may have left it."""

_CUT_NOTICE = re.compile(r"^\[[\d,]+ earlier characters cut\]\n")
_ELLIPSES = ("…", "...")


def marker(name: str) -> str:
    return f"[secret `{name}`]"


def _trailing(text: str, value: str, mark: str) -> str:
    for end in ("", *_ELLIPSES):
        body = text[: len(text) - len(end)] if end else text
        if end and not text.endswith(end):
            continue
        for size in range(len(value) - 1, MIN_FRAGMENT - 1, -1):
            if body.endswith(value[:size]):
                return body[: len(body) - size] + mark + end
    return text


def _leading(text: str, value: str, mark: str) -> str:
    notice = _CUT_NOTICE.match(text)
    start = notice.end() if notice else 0
    for size in range(len(value) - 1, MIN_FRAGMENT - 1, -1):
        if text.startswith(value[-size:], start):
            return text[:start] + mark + text[start + size :]
    return text


def redact(text: str, secrets: Mapping[str, str], mark: str | None = None) -> str:
    """`text` with every secret value, and every fragment of one that a cut left at an edge,
    replaced by the secret's name (or by `mark`)."""
    for name, value in sorted(secrets.items(), key=lambda item: -len(item[1] or "")):
        if not value:
            continue
        shown = mark if mark is not None else marker(name)
        text = text.replace(value, shown)
        if len(value) > MIN_FRAGMENT:
            text = _leading(_trailing(text, value, shown), value, shown)
    return text


def redact_cut(text: str, limit: int, secrets: Mapping[str, str]) -> str:
    """`text` redacted, then cut to its first `limit` characters: never the other way round."""
    return redact(text, secrets)[:limit]
