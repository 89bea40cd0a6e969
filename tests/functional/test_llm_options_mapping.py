"""`options:` written as Ollama's own request mapping (issue 21, item 7): accepted for `ollama`,
each key validated exactly as its flat field, sent under the request's `options`; one option
given both ways, an unknown key, a top-level key, or `options` for the openai protocol is
refused at submit with one line that names it and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from sweep_contracts.errors import SweepError
from sweep_contracts.storage import MemoryStore
from sweep_orchestrator.submit import submit_run
from tests.helpers import runtime_for
from tests.llm_fake import FakeModelServer
from tests.llm_helpers import run_llm


def payload(url: str, experiment: str = "ollama", **config: Any) -> dict[str, Any]:
    return {"experiment": experiment, "config": {"endpoint": url, "model": "qwen2.5:7b", **config}}


def test_ollama_options_mapping_is_sent_under_options_as_written() -> None:
    # GIVEN the words of docs/guide/llm.md literally: Ollama's `options` mapping in `config`, an axis by its flat name
    with FakeModelServer().running() as server:
        sweep = payload(server.url, options={"temperature": 0.2, "num_ctx": 8192, "repeat_penalty": 1.1})
        sweep["grid"] = {"top_k": [20, 40]}
        # WHEN it runs
        _, rows = run_llm(sweep, MemoryStore())
    # THEN every request carried exactly those options plus its axis value, under `options`
    assert [r["status"] for r in rows] == ["ok", "ok"], [r["error_message"] for r in rows]
    sent = [b["options"] for b in server.requests]
    assert sorted(sent, key=lambda o: o["top_k"]) == [
        {"seed": 0, "temperature": 0.2, "num_ctx": 8192, "repeat_penalty": 1.1, "top_k": k} for k in (20, 40)
    ]
    assert all("temperature" not in b for b in server.requests)
    assert sorted(r["call"]["request"]["options"]["top_k"] for r in rows) == [20, 40]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"temperature": 0.1, "options": {"temperature": 0.2}},
            "`temperature` is given twice, as `options.temperature` (0.2) and as the config field `temperature` "
            "(0.1): keep one",
        ),
        (
            {"options": {"temperature": 5}},
            "`options.temperature`: input should be less than or equal to 2; got 5",
        ),
        (
            {"options": {"num_ctx": "big"}},
            "`options.num_ctx`: input should be a valid integer, unable to parse string as an integer; got 'big'",
        ),
        (
            {"options": {"temprature": 0.2}},
            "`options.temprature` is not an Ollama option sweep knows; did you mean `temperature`? known: seed, "
            "temperature, top_p, presence_penalty, frequency_penalty, stop, num_predict, top_k, min_p, typical_p, "
            "repeat_last_n, repeat_penalty, num_keep, num_ctx, num_batch, num_gpu, main_gpu, use_mmap, num_thread",
        ),
        (
            {"options": {"seed": 5}},
            "`options.seed`: the sweep sets `seed` on every point (the repeat's seed, or `seed` in config or as an "
            "axis): set it there, not in `options`",
        ),
        (
            {"options": {"keep_alive": "5m"}},
            "`options.keep_alive` goes at the top level of Ollama's request: write `keep_alive: ...` as a config field",
        ),
        (
            {"options": [0.2]},
            "`options` must be a mapping of Ollama option names to values, e.g. {temperature: 0.2}; got [0.2]",
        ),
    ],
)
def test_a_bad_options_mapping_is_refused_at_submit(config: dict[str, Any], message: str) -> None:
    rt, dispatcher = runtime_for(MemoryStore())
    with pytest.raises(SweepError) as info:
        submit_run(payload("http://127.0.0.1:9", **config), rt)
    assert [(p.field, p.message) for p in info.value.problems] == [("config.options", message)]
    assert dispatcher.events == []


def test_an_axis_and_the_options_mapping_naming_one_option_is_refused() -> None:
    rt, dispatcher = runtime_for(MemoryStore())
    sweep = payload("http://127.0.0.1:9", options={"temperature": 0.2}) | {"grid": {"temperature": [0.0, 0.7]}}
    with pytest.raises(SweepError) as info:
        submit_run(sweep, rt)
    assert "`temperature` is given twice, as `options.temperature` (0.2) and as the config field" in str(info.value)
    assert dispatcher.events == []


def test_openai_protocol_refuses_options_saying_where_the_option_goes() -> None:
    rt, _ = runtime_for(MemoryStore())
    with pytest.raises(SweepError) as info:
        submit_run(payload("http://127.0.0.1:9", "openai-chat", options={"temperature": 0.2}), rt)
    assert [(p.field, p.message) for p in info.value.problems] == [
        (
            "config.options",
            "`options` is Ollama's request mapping; for the openai protocol set each option as a config field "
            "(e.g. temperature: 0.2) and backend extensions in `extra` (e.g. extra: {top_k: 40})",
        )
    ]
