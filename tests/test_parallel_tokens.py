"""``parallel_chat_structured(include_tokens=, include_cost=)``: R's extra columns as rows.

Against the loopback server of ``test_parallel`` (it answers each prompt by
its text): each row carries the prompt's data under ``"data"`` and the
tokens and cost of that prompt's request alone, under R's column names; a
failed or unsent prompt counts 0, as in R's ``multi_convert()``.
"""

from __future__ import annotations

import warnings
from typing import Any

import attrs
import pytest
from test_parallel import BAD, FAST, Server, completion, make_chat, srv  # noqa: F401

from ellmer_py import (
    AssistantTurn,
    Chat,
    ConfigurationError,
    ParallelChatError,
    Tokens,
    UserTurn,
    parallel_chat_structured,
    type_integer,
    type_object,
    type_string,
)
from ellmer_py._tokens import Price
from ellmer_py.conformance.fake_server import FakeServer, Reply

PERSON = type_object(name=type_string(), age=type_integer())


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ELLMER_ECHO", "ELLMER_MAX_TRIES", "ELLMER_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(srv: FakeServer) -> Server:  # noqa: F811
    return Server(srv)


def answer(text: str, prompt_tokens: int, completion_tokens: int, cached: int = 0) -> Reply:
    doc = completion(text)
    doc["usage"] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    return Reply.json(doc)


class FixedPrices:
    """Every answer at $2 per million input tokens, $10 per million output, $1 cached."""

    def price(self, provider: Any, headers: Any) -> Price:
        return Price(2.0, 10.0, cached_input=1.0)


def priced_chat(srv: FakeServer) -> Chat:  # noqa: F811
    provider = attrs.evolve(make_chat(srv).get_provider(), prices=FixedPrices())
    return Chat(provider, echo="none")


def test_default_is_the_data_alone(srv: FakeServer, server: Server) -> None:  # noqa: F811
    server.special = {"a": answer('{"name": "A", "age": 1}', 10, 3)}
    assert parallel_chat_structured(make_chat(srv), ["a"], PERSON) == [{"name": "A", "age": 1}]


def test_include_tokens_gives_rows_with_r_column_names(
    srv: FakeServer,  # noqa: F811
    server: Server,
) -> None:
    server.special = {
        "a": answer('{"name": "A", "age": 1}', 100, 7, cached=40),
        "b": answer('{"name": "B", "age": 2}', 20, 9),
    }
    chat = make_chat(srv)
    # The history the prompts are forked from has tokens of its own: not counted.
    chat.set_turns([UserTurn("hi"), AssistantTurn("hello", tokens=Tokens(1000, 1000, 1000))])
    rows = parallel_chat_structured(chat, ["a", "b"], PERSON, include_tokens=True)
    assert rows == [
        {
            "data": {"name": "A", "age": 1},
            "input_tokens": 60,
            "output_tokens": 7,
            "cached_input_tokens": 40,
        },
        {
            "data": {"name": "B", "age": 2},
            "input_tokens": 20,
            "output_tokens": 9,
            "cached_input_tokens": 0,
        },
    ]
    assert list(rows[0]) == ["data", "input_tokens", "output_tokens", "cached_input_tokens"]


def test_include_cost_prices_each_prompt(srv: FakeServer, server: Server) -> None:  # noqa: F811
    server.special = {
        "a": answer('{"name": "A", "age": 1}', 1_000_100, 200_000, cached=1_000_000),
        "b": answer('{"name": "B", "age": 2}', 500_000, 0),
    }
    rows = parallel_chat_structured(
        priced_chat(srv), ["a", "b"], PERSON, include_tokens=True, include_cost=True
    )
    # a: 100 input x $2 + 200_000 output x $10 + 1_000_000 cached x $1, per million.
    assert rows[0]["cost"] == pytest.approx(0.0002 + 2.0 + 1.0)
    assert rows[1]["cost"] == pytest.approx(1.0)
    assert list(rows[0]) == [
        "data",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cost",
    ]
    # Cost alone: no token columns.
    server.special = {"c": answer('{"name": "C", "age": 3}', 1_000_000, 0)}
    only = parallel_chat_structured(priced_chat(srv), ["c"], PERSON, include_cost=True)
    assert only == [{"data": {"name": "C", "age": 3}, "cost": pytest.approx(2.0)}]


def test_cost_is_none_when_the_price_is_unknown(
    srv: FakeServer,  # noqa: F811
    server: Server,
) -> None:
    server.special = {"a": answer('{"name": "A", "age": 1}', 10, 3)}
    rows = parallel_chat_structured(make_chat(srv), ["a"], PERSON, include_cost=True)
    assert rows == [{"data": {"name": "A", "age": 1}, "cost": None}]


def test_failed_and_unsent_prompts_count_zero_and_unextracted_ones_count(
    srv: FakeServer,  # noqa: F811
    server: Server,
) -> None:
    server.special = {
        "ok": answer('{"name": "A", "age": 1}', 10, 3),
        "bad": BAD,
        "prose": answer("not json at all", 11, 4),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = parallel_chat_structured(
            priced_chat(srv),
            ["ok", "bad", "prose"],
            PERSON,
            include_tokens=True,
            include_cost=True,
            max_active=1,
            rpm=FAST,
            on_error="continue",
        )
    message = str(caught[-1].message)
    assert "1 of 3 requests failed" in message and "could not be extracted from 1" in message
    zero = {"input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 0, "cost": 0.0}
    assert rows[1] == {"data": None, **zero}
    # The answer that did not fit was still paid for (R counts its turn).
    assert rows[2]["data"] is None
    assert (rows[2]["input_tokens"], rows[2]["output_tokens"]) == (11, 4)
    assert rows[2]["cost"] == pytest.approx((11 * 2 + 4 * 10) / 1e6)
    assert rows[0]["data"] == {"name": "A", "age": 1}

    # on_error="return" (the default) never sends the third prompt: it counts 0 too.
    with pytest.warns(UserWarning, match="did not complete"):
        rows = parallel_chat_structured(
            make_chat(srv), ["bad", "ok"], PERSON, include_tokens=True, max_active=1, rpm=FAST
        )
    assert rows[1] == {
        "data": None,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_input_tokens": 0,
    }


def test_stop_carries_the_rows_in_the_error(srv: FakeServer, server: Server) -> None:  # noqa: F811
    server.special = {"ok": answer('{"name": "A", "age": 1}', 10, 3), "bad": BAD}
    with pytest.raises(ParallelChatError) as info:
        parallel_chat_structured(
            make_chat(srv),
            ["ok", "bad"],
            PERSON,
            include_tokens=True,
            max_active=1,
            rpm=FAST,
            on_error="stop",
        )
    assert info.value.results[0]["input_tokens"] == 10
    assert info.value.results[1]["data"] is None


@pytest.mark.parametrize("name", ["convert", "include_tokens", "include_cost"])
@pytest.mark.parametrize("value", [1, "yes", None])
def test_flags_must_be_bools(srv: FakeServer, name: str, value: Any) -> None:  # noqa: F811
    with pytest.raises(ConfigurationError, match=rf"{name} must be True or False, not "):
        parallel_chat_structured(make_chat(srv), ["a"], PERSON, **{name: value})
    assert srv.requests == []
