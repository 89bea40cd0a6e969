"""Regular expressions a user gives (the `regex` scorer's `scorer_args.pattern`, or a task item's
`expected`) run on RE2 (`google-re2`), whose matching time is linear in the text: with Python's
`re`, `^(a+)+$` on 30 `a`s and `!` held a worker for ~40 s past its budget, and `re` holds the GIL,
so no timer can stop it (issue 20, item 9). RE2 has no look-around or back-references; a pattern
that needs them is refused when the config is validated, naming the field.

`re2` is imported with the first pattern (~50 ms), not with the experiments."""

from __future__ import annotations

import functools
from typing import Any

_HINT = "patterns run on RE2, in linear time: no look-around or back-references; rewrite it without them"


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # the error is ours to report, once, not RE2's line on stderr
    return re2.compile(pattern, options)


def compile_user(pattern: str, field: str, scorer: str = "regex") -> Any:
    """`pattern` compiled by RE2; ValueError names `field`, the pattern, RE2's reason and the fix."""
    import re2

    try:
        return _compiled(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f"{field} {pattern!r} is not a pattern the `{scorer}` scorer can run: {reason} ({_HINT})"
        ) from None


def search(pattern: str, text: str, field: str = "the pattern") -> bool:
    """Whether `pattern` matches anywhere in `text`, in time linear in `text`."""
    return compile_user(pattern, field).search(text) is not None
