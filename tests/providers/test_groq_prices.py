"""``chat_groq()`` answers priced as R prices them, against a loopback :class:`FakeServer`.

R's ``get_token_cost()`` looks the chat's model up, exactly, in the "Groq"
rows of its price table (data-raw/prices.json, updated 2026-08-03). The
prices written here are copied from those rows, not read from the plugin,
so a wrong table or a lookup that is not wired in fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ellmer_py import Chat, chat_groq, token_usage
from ellmer_py._tokens import _local_token_usage
from ellmer_py.conformance.fake_server import FakeServer, Reply, sse_data
from ellmer_py.plugin import Price
from ellmer_py.providers.groq import price_of

KEY = "gsk-test-key-do-not-show-0123456789"

#: Rows of R's table: model -> (input, output, cached input), dollars per million tokens.
R_ROWS = {
    "openai/gpt-oss-20b": (0.075, 0.3, 0.0375),
    "openai/gpt-oss-120b": (0.15, 0.6, 0.075),
    "moonshotai/kimi-k2-instruct-0905": (1.0, 3.0, 0.5),
    "llama-3.3-70b-versatile": (0.59, 0.79, None),
    "qwen/qwen3-32b": (0.29, 0.59, None),
}


@pytest.fixture(autouse=True)
def fresh_usage(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    monkeypatch.delenv("ELLMER_ECHO", raising=False)
    with _local_token_usage():
        yield


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def completion(prompt: int, output: int, cached: int = 0, model: str = "m") -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": output}
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": usage,
    }


def groq(srv: FakeServer, model: str | None = None) -> Chat:
    return chat_groq(
        base_url=srv.base_url, credentials=lambda: KEY, model=model, echo="none", max_tries=1
    )


def r_cost(model: str, input: int, output: int, cached: int = 0) -> float:
    """R's get_token_cost(): tokens times the row's prices (no cached tokens at no cached price)."""
    i, o, c = R_ROWS[model]
    assert cached == 0 or c is not None
    return (input * i + output * o + cached * (c or 0.0)) / 1e6


def test_rs_default_model_is_priced_with_its_cached_input_price(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(completion(1_200, 300, cached=200, model="openai/gpt-oss-20b")))
    chat = groq(srv)
    assert chat.get_model() == "openai/gpt-oss-20b"
    chat.chat("hi")
    # R: input is prompt_tokens less the cached ones
    expected = r_cost("openai/gpt-oss-20b", 1_000, 300, cached=200)
    assert chat.get_cost() == pytest.approx(expected, rel=1e-12)
    assert chat.get_tokens()[0]["cost"] == pytest.approx(expected, rel=1e-12)
    (row,) = token_usage()
    assert (row["provider"], row["model"]) == ("Groq", "openai/gpt-oss-20b")
    assert row["cost"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("model", sorted(R_ROWS))
def test_each_model_is_priced_from_rs_row(srv: FakeServer, model: str) -> None:
    srv.enqueue(Reply.json(completion(4_000, 1_000, model=model)))
    chat = groq(srv, model)
    chat.chat("hi")
    assert chat.get_cost() == pytest.approx(r_cost(model, 4_000, 1_000), rel=1e-12)


def test_the_answers_add_up(srv: FakeServer) -> None:
    model = "openai/gpt-oss-120b"
    srv.enqueue(Reply.json(completion(100, 10)), Reply.json(completion(500, 50, cached=100)))
    chat = groq(srv, model)
    chat.chat("one")
    chat.chat("two")
    first, second = r_cost(model, 100, 10), r_cost(model, 400, 50, cached=100)
    assert chat.get_cost("last") == pytest.approx(second, rel=1e-12)
    assert chat.get_cost() == pytest.approx(first + second, rel=1e-12)


def test_a_streamed_answer_is_priced_too(srv: FakeServer) -> None:
    usage = {"prompt_tokens": 2_000, "completion_tokens": 40}
    srv.enqueue(
        Reply.sse(
            [
                sse_data({"choices": [{"index": 0, "delta": {"content": "ok"}}]}),
                sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
                sse_data({"choices": [], "usage": usage}),
                sse_data("[DONE]"),
            ]
        )
    )
    chat = groq(srv, "qwen/qwen3-32b")
    assert "".join(chat.stream("hi")) == "ok"
    assert chat.get_cost() == pytest.approx(r_cost("qwen/qwen3-32b", 2_000, 40), rel=1e-12)


def test_the_model_asked_for_is_priced_as_in_r(srv: FakeServer) -> None:
    # R prices provider@model, whatever the answer's "model" says
    srv.enqueue(Reply.json(completion(1_000, 100, model="openai/gpt-oss-120b")))
    chat = groq(srv, "llama-3.3-70b-versatile")
    chat.chat("hi")
    assert chat.get_cost() == pytest.approx(r_cost("llama-3.3-70b-versatile", 1_000, 100))


@pytest.mark.parametrize(
    "model",
    [
        "whisper-large-v3",  # not in R's table
        "openai/gpt-oss-20b-2025-08-05",  # R matches ids exactly: no dated suffixes
        "OpenAI/GPT-OSS-20B",
        "groq/openai/gpt-oss-20b",
    ],
)
def test_a_model_r_cannot_price_stays_unpriced(srv: FakeServer, model: str) -> None:
    srv.enqueue(Reply.json(completion(1_000, 100)))
    chat = groq(srv, model)
    assert chat.chat("hi") == "ok"
    assert chat.get_cost() is None
    assert chat.get_tokens()[0]["cost"] is None
    assert chat.get_tokens()[0]["input"] == 1_000
    (row,) = token_usage()
    assert row["cost"] is None


def test_price_of_gives_rs_rows() -> None:
    for model, (i, o, c) in R_ROWS.items():
        assert price_of(model) == Price(i, o, c)
    assert price_of("whisper-large-v3") is None
    assert price_of("") is None
