"""Where a key may go, decided on the origin a client connects to, and redaction that holds at a
cut's edge (sweep_contracts.binding, sweep_contracts.redaction)."""

from __future__ import annotations

import pytest

from sweep_contracts.binding import SecretBinding, local_binding, refusal
from sweep_contracts.redaction import redact, redact_cut

BOUND = SecretBinding(endpoints=("https://api.example.com",), header="Authorization", setting="S")


@pytest.mark.parametrize(
    ("url", "header", "allowed"),
    [
        ("https://api.example.com/v1/chat/completions", "Authorization", True),
        ("HTTPS://API.EXAMPLE.COM:443/v1", "authorization", True),  # same origin, other spelling
        ("https://api.example.com:8443/v1", "Authorization", False),  # another port
        ("http://api.example.com/v1", "Authorization", False),  # plain http
        ("https://api.example.com.evil.test/v1", "Authorization", False),
        ("https://api.example.com@evil.test/v1", "Authorization", False),  # userinfo, host is evil.test
        ("https://api.example.com/v1", "X-Anything", False),
        ("ftp://api.example.com", "Authorization", False),
    ],
)
def test_a_stage_binding_allows_exactly_its_origins_and_header(url: str, header: str, allowed: bool) -> None:
    assert (BOUND.refusal("api_key", url, header) is None) == allowed


@pytest.mark.parametrize(
    "endpoint", ["http://api.example.com", "https://api.example.com/v1", "https://u@api.example.com", "api.example.com"]
)
def test_a_binding_refuses_plain_http_paths_and_userinfo(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"endpoint|plain http"):
        SecretBinding(endpoints=(endpoint,))


def test_locally_loopback_only_unless_endpoints_are_listed() -> None:
    default = local_binding("api_key", {}, "SWEEP_SECRET_")
    assert default.refusal("api_key", "http://127.0.0.1:8080/api/chat", "X-Any") is None
    assert default.refusal("api_key", "http://localhost:8080/api/chat", "X-Any") is None
    assert default.refusal("api_key", "https://api.openai.com/v1", "Authorization") is not None
    listed = local_binding("api_key", {"SWEEP_SECRET_API_KEY_ENDPOINTS": "https://api.openai.com"}, "SWEEP_SECRET_")
    assert listed.refusal("api_key", "https://api.openai.com/v1", "Authorization") is None
    assert listed.refusal("api_key", "http://127.0.0.1:8080/api/chat", "Authorization") is not None


def test_a_plain_string_key_goes_over_https_or_to_loopback_only() -> None:
    assert refusal("k", "https://anywhere.test/v1", "Authorization") is None
    assert refusal("k", "http://127.0.0.1:9/v1", "Authorization") is None
    assert refusal("k", "http://anywhere.test/v1", "Authorization") is not None


KEY = "Hx4Rt7Wq2Zp9"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"a {KEY} b", "a [secret `api_key`] b"),
        (f"cut here {KEY[:5]}", "cut here [secret `api_key`]"),  # a head cut's prefix
        (f"cut here {KEY[:5]}…", "cut here [secret `api_key`]…"),  # … as `truncate` leaves it
        (f"{KEY[-5:]} rest", "[secret `api_key`] rest"),  # a tail cut's suffix
        (f"[9 earlier characters cut]\n{KEY[-5:]} rest", "[9 earlier characters cut]\n[secret `api_key`] rest"),
        (f"{KEY[:3]} too short to be sure", f"{KEY[:3]} too short to be sure"),
        (f"mid {KEY[2:8]} text", f"mid {KEY[2:8]} text"),  # not at an edge: the researcher's data
    ],
)
def test_redaction_takes_the_key_and_what_a_cut_left_of_it(text: str, expected: str) -> None:
    assert redact(text, {"api_key": KEY}) == expected


def test_redact_then_cut_leaves_no_prefix() -> None:
    text = "x" * 10 + KEY
    assert redact_cut(text, 14, {"api_key": KEY}) == "x" * 10 + "[sec"
    assert KEY[:4] not in redact_cut(text, 14, {"api_key": KEY})
