"""``chat_mistral()`` answers priced as R prices them, against a loopback :class:`FakeServer`.

R's ``get_token_cost()`` looks the chat's model up, exactly, in the "Mistral"
rows of its price table (data-raw/prices.json, updated 2026-08-03). The
prices written here are copied from those rows, not read from the plugin,
so a wrong table or a lookup that is not wired in fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ellmer_py import Chat, chat_mistral, token_usage
from ellmer_py._tokens import _local_token_usage
from ellmer_py.conformance.fake_server import FakeServer, Reply
from ellmer_py.plugin import Price
from ellmer_py.providers.mistral import price_of

KEY = "mistral-test-key-do-not-show-0123456789"

#: Rows of R's table: model -> (input, output), dollars per million tokens (no
#: Mistral row has a cached input price).
R_ROWS = {
    "mistral-large-latest": (0.5, 1.5),
    "mistral-large-2411": (2.0, 6.0),
    "mistral-medium-latest": (1.5, 7.5),
    "mistral-small-latest": (0.06, 0.18),
    "codestral-latest": (1.0, 3.0),
    "magistral-medium-latest": (2.0, 5.0),
    "devstral-small-2507": (0.1, 0.3),
    "open-mistral-nemo": (0.3, 0.3),
    "pixtral-large-latest": (2.0, 6.0),
}


@pytest.fixture(autouse=True)
def fresh_usage(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    monkeypatch.delenv("ELLMER_ECHO", raising=False)
    with _local_token_usage():
        yield


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def completion(prompt: int, output: int, model: str = "m") -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": output},
    }


def mistral(srv: FakeServer, model: str | None = None) -> Chat:
    return chat_mistral(
        base_url=srv.base_url, credentials=lambda: KEY, model=model, echo="none", max_tries=1
    )


def r_cost(model: str, input: int, output: int) -> float:
    """R's get_token_cost() for an answer without cached tokens."""
    i, o = R_ROWS[model]
    return (input * i + output * o) / 1e6


def test_rs_default_model_is_priced(srv: FakeServer) -> None:
    srv.enqueue(Reply.json(completion(3_000, 700)))
    chat = mistral(srv)
    assert chat.get_model() == "mistral-large-latest"
    chat.chat("hi")
    expected = r_cost("mistral-large-latest", 3_000, 700)
    assert chat.get_cost() == pytest.approx(expected, rel=1e-12)
    assert chat.get_tokens()[0]["cost"] == pytest.approx(expected, rel=1e-12)
    (row,) = token_usage()
    assert (row["provider"], row["model"]) == ("Mistral", "mistral-large-latest")
    assert row["cost"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("model", sorted(R_ROWS))
def test_each_model_is_priced_from_rs_row(srv: FakeServer, model: str) -> None:
    srv.enqueue(Reply.json(completion(10_000, 2_000)), Reply.json(completion(1, 1)))
    chat = mistral(srv, model)
    chat.chat("one")
    chat.chat("two")
    first, second = r_cost(model, 10_000, 2_000), r_cost(model, 1, 1)
    assert chat.get_cost() == pytest.approx(first + second, rel=1e-12)
    assert chat.get_cost("last") == pytest.approx(second, rel=1e-12)


def test_the_model_asked_for_is_priced_as_in_r(srv: FakeServer) -> None:
    # Mistral answers with the model it resolved an alias to; R prices provider@model
    srv.enqueue(Reply.json(completion(1_000, 100, model="mistral-large-2411")))
    chat = mistral(srv, "mistral-large-latest")
    chat.chat("hi")
    assert chat.get_cost() == pytest.approx(r_cost("mistral-large-latest", 1_000, 100))


@pytest.mark.parametrize(
    "model",
    [
        "mistral-embed",  # R's row has no output price: R's cost is NA
        "codestral-embed-2505",
        "ministral-3b-latest",  # not in R's table
        "ft:open-mistral-7b:abc:20240531",
        "Mistral-Large-Latest",  # R matches ids exactly
        "mistral/mistral-large-latest",
    ],
)
def test_a_model_r_cannot_price_stays_unpriced(srv: FakeServer, model: str) -> None:
    srv.enqueue(Reply.json(completion(1_000, 100)))
    chat = mistral(srv, model)
    assert chat.chat("hi") == "ok"
    assert chat.get_cost() is None
    assert chat.get_tokens()[0]["cost"] is None
    (row,) = token_usage()
    assert row["cost"] is None


def test_price_of_gives_rs_rows() -> None:
    for model, (i, o) in R_ROWS.items():
        assert price_of(model) == Price(i, o, None)
    assert price_of("mistral-embed") is None
    assert price_of("nope") is None
