"""Tests of tokens and cost (``ellmer_py._tokens``) and the Hugging Face router's prices.

Prices come from the router's own ``GET /v1/models``; here a real loopback
server (``FakeServer``) answers it with the recorded list, and answers chat
requests with recorded or hand-made answers carrying ``x-inference-provider``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ellmer_py import (
    AssistantPartialTurn,
    AssistantTurn,
    Chat,
    ConnectionCutError,
    ContentText,
    Provider,
    Tokens,
    UserTurn,
    chat_huggingface,
    token_usage,
)
from ellmer_py._tokens import Price, _local_token_usage, account_turn, token_cost
from ellmer_py.conformance.fake_server import FakeServer, RecordedRequest, Reply, sse_data
from ellmer_py.providers.huggingface import RouterPrices

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "hf-router"
MODEL_LIST = FIXTURES / "chatlas" / "test_huggingface_model_list.json"
KEY = "hf_test_key_0123456789"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def recorded_prices() -> dict[tuple[str, str], dict[str, float]]:
    """(model, provider) -> pricing, read straight from the recording."""
    (interaction,) = json.loads(MODEL_LIST.read_text(encoding="utf-8"))["interactions"]
    listing = json.loads(interaction["response"]["body"])
    return {
        (m["id"], p["provider"]): p["pricing"]
        for m in listing["data"]
        for p in m["providers"]
        if p.get("pricing")
    }


PRICES = recorded_prices()


@pytest.fixture(autouse=True)
def fresh_usage() -> Iterator[None]:
    """Each test starts from an empty session log, and leaves the real one alone."""
    with _local_token_usage():
        yield


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HUGGINGFACE_API_KEY", "HF_TOKEN", "ELLMER_ECHO", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setenv("ELLMER_MAX_TRIES", "1")
    monkeypatch.setenv("ELLMER_TIMEOUT_S", "5")


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert not server.errors, server.errors


def model_list_reply() -> Reply:
    (interaction,) = json.loads(MODEL_LIST.read_text(encoding="utf-8"))["interactions"]
    return Reply.from_recording(interaction["response"])


def route(srv: FakeServer, *chat_replies: Reply, models: Reply | None = None) -> None:
    """GET .../models gets the price list; every other request the next chat reply."""
    queue = deque(chat_replies)
    price_list = models or model_list_reply()

    def respond(request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path.endswith("/models"):
            return price_list
        return queue.popleft()

    srv.default = respond


def gets(srv: FakeServer) -> list[RecordedRequest]:
    return [r for r in srv.requests if r.method == "GET"]


def completion(
    text: str, prompt_tokens: int, completion_tokens: int, cached: int | None = None
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": usage,
    }


def answer(
    text: str = "ok", prompt: int = 1000, output: int = 200, upstream: str | None = "novita"
) -> Reply:
    headers = {"x-inference-provider": upstream} if upstream else None
    return Reply.json(completion(text, prompt, output), headers=headers)


def streamed(text: str, prompt: int, output: int, upstream: str | None = "novita") -> Reply:
    usage = {"prompt_tokens": prompt, "completion_tokens": output}
    return Reply.sse(
        [
            sse_data({"choices": [{"index": 0, "delta": {"content": text}}]}),
            sse_data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            sse_data({"choices": [], "usage": usage}),
            sse_data("[DONE]"),
        ],
        headers={"x-inference-provider": upstream} if upstream else None,
    )


def hf(srv: FakeServer, model: str = LLAMA, **kwargs: Any) -> Chat:
    kwargs.setdefault("credentials", lambda: KEY)
    kwargs.setdefault("echo", "none")
    kwargs.setdefault("pricing", True)
    return chat_huggingface(model=model, base_url=srv.base_url, max_tries=1, timeout_s=5, **kwargs)


def expected_cost(model: str, upstream: str, prompt: int, output: int) -> float:
    """Dollars for these tokens at the recorded per-million prices (cached = input price)."""
    price = PRICES[(model, upstream)]
    return (prompt * price["input"] + output * price["output"]) / 1_000_000


def cost_of(chat: Chat) -> float | None:
    turn = chat.last_turn()
    assert isinstance(turn, AssistantTurn)
    return turn.cost


# -- the arithmetic ----------------------------------------------------------------


def test_token_cost_per_million() -> None:
    assert token_cost(Tokens(1000, 500, 200), Price(2.0, 8.0)) == pytest.approx(0.0064, rel=1e-12)
    assert token_cost(Tokens(1000, 500, 200), Price(2.0, 8.0, cached_input=0.5)) == pytest.approx(
        0.0061, rel=1e-12
    )
    assert token_cost(Tokens(), Price(3.0, 15.0)) == 0.0
    assert token_cost(Tokens(1_000_000, 0, 0), Price(0.25, 1.0)) == 0.25


# -- the session log ---------------------------------------------------------------


class FixedPrices:
    def __init__(self, price: Price | None = None, error: Exception | None = None) -> None:
        self.result = price
        self.error = error
        self.calls: list[dict[str, str]] = []

    def price(self, provider: Provider, headers: Any) -> Price | None:
        self.calls.append(dict(headers))
        if self.error is not None:
            raise self.error
        return self.result


def provider(name: str = "P", model: str = "m", prices: Any = None) -> Provider:
    return Provider(name=name, model=model, base_url="http://127.0.0.1:9", prices=prices)


def turn(input: int = 10, output: int = 5, cached: int = 0, cost: float | None = None) -> Any:
    return AssistantTurn([ContentText("hi")], tokens=Tokens(input, output, cached), cost=cost)


def test_token_usage_starts_empty() -> None:
    assert token_usage() == []


def test_token_usage_sums_per_provider_and_model() -> None:
    account_turn(provider(), turn(10, 5, 1, cost=0.5), {})
    account_turn(provider(), turn(20, 7, 2, cost=0.25), {})
    account_turn(provider(model="other"), turn(1, 1), {})
    account_turn(provider(name="Q"), turn(3, 4, cost=1.0), {})
    assert token_usage() == [
        {"provider": "P", "model": "m", "input": 30, "output": 12, "cached_input": 3, "cost": 0.75},
        {
            "provider": "P",
            "model": "other",
            "input": 1,
            "output": 1,
            "cached_input": 0,
            "cost": None,
        },
        {"provider": "Q", "model": "m", "input": 3, "output": 4, "cached_input": 0, "cost": 1.0},
    ]


@pytest.mark.parametrize("costs", [(0.5, None), (None, 0.5)])
def test_one_unpriced_answer_makes_the_total_unknown(costs: tuple[Any, Any]) -> None:
    for cost in costs:
        account_turn(provider(), turn(cost=cost), {})
    (row,) = token_usage()
    assert row["cost"] is None
    assert row["input"] == 20


def test_partial_turns_are_not_logged_nor_priced() -> None:
    prices = FixedPrices(Price(1.0, 1.0))
    partial = AssistantPartialTurn([ContentText("h")], tokens=Tokens(5, 1, 0), reason="cut")
    assert account_turn(provider(prices=prices), partial, {}) is partial
    assert token_usage() == []
    assert prices.calls == []


def test_a_turn_without_usage_is_logged_as_zero_and_unpriced() -> None:
    prices = FixedPrices(Price(1.0, 1.0))
    out = account_turn(provider(prices=prices), AssistantTurn([ContentText("x")]), {})
    assert out.cost is None
    assert prices.calls == []
    assert token_usage() == [
        {"provider": "P", "model": "m", "input": 0, "output": 0, "cached_input": 0, "cost": None}
    ]


def test_the_price_source_sets_the_cost_and_sees_the_headers() -> None:
    prices = FixedPrices(Price(2.0, 4.0))
    out = account_turn(provider(prices=prices), turn(1000, 100), {"x-inference-provider": "a"})
    assert out.cost == pytest.approx((1000 * 2.0 + 100 * 4.0) / 1e6, rel=1e-12)
    assert out.text == "hi" and out.tokens == Tokens(1000, 100, 0)
    assert prices.calls == [{"x-inference-provider": "a"}]
    assert token_usage()[0]["cost"] == out.cost


def test_a_known_cost_is_kept() -> None:
    prices = FixedPrices(Price(2.0, 4.0))
    out = account_turn(provider(prices=prices), turn(cost=9.0), {})
    assert out.cost == 9.0
    assert prices.calls == []


@pytest.mark.parametrize("source", [FixedPrices(None), FixedPrices(error=RuntimeError("boom"))])
def test_an_unknown_price_never_breaks_anything(source: FixedPrices) -> None:
    out = account_turn(provider(prices=source), turn(), {})
    assert out.cost is None
    assert token_usage()[0]["cost"] is None


def test_the_log_is_thread_safe() -> None:
    p = provider()

    def work() -> None:
        for _ in range(500):
            account_turn(p, turn(3, 2, 1, cost=0.25), {})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert token_usage() == [
        {
            "provider": "P",
            "model": "m",
            "input": 12_000,
            "output": 8_000,
            "cached_input": 4_000,
            "cost": 1000.0,
        }
    ]


def test_token_usage_returns_copies() -> None:
    account_turn(provider(), turn(), {})
    token_usage()[0]["input"] = 999
    assert token_usage()[0]["input"] == 10


# -- chats priced by the router's list -----------------------------------------------


def test_a_chat_is_priced_by_the_upstream_provider(srv: FakeServer) -> None:
    route(srv, answer("one", 1000, 200), answer("two", 3000, 50, upstream="nebius"))
    chat = hf(srv, api_headers={"X-Extra": "1"})
    assert chat.chat("hi") == "one"
    first = expected_cost(LLAMA, "novita", 1000, 200)
    assert cost_of(chat) == pytest.approx(first, rel=1e-12)
    assert chat.chat("again") == "two"
    second = expected_cost(LLAMA, "nebius", 3000, 50)
    assert cost_of(chat) == pytest.approx(second, rel=1e-12)
    assert [row["cost"] for row in chat.get_tokens()] == [
        pytest.approx(first, rel=1e-12),
        pytest.approx(second, rel=1e-12),
    ]
    assert chat.get_cost() == pytest.approx(first + second, rel=1e-12)
    assert chat.get_cost("last") == pytest.approx(second, rel=1e-12)
    # the list was read once, through the same transport, with the chat's headers
    (listing,) = gets(srv)
    assert listing.path == "/v1/models"
    assert listing.headers["authorization"] == f"Bearer {KEY}"
    assert listing.headers["x-extra"] == "1"
    assert [r.method for r in srv.requests] == ["POST", "GET", "POST"]
    assert token_usage() == [
        {
            "provider": "HuggingFace",
            "model": LLAMA,
            "input": 4000,
            "output": 250,
            "cached_input": 0,
            "cost": pytest.approx(first + second, rel=1e-12),
        }
    ]


def test_a_streamed_chat_is_priced_from_the_stream_headers(srv: FakeServer) -> None:
    route(srv, streamed("Hello", 120, 30, upstream="sambanova"))
    chat = hf(srv)
    assert "".join(chat.stream("hi")) == "Hello"
    assert cost_of(chat) == pytest.approx(expected_cost(LLAMA, "sambanova", 120, 30), rel=1e-12)
    assert token_usage()[0]["input"] == 120
    assert len(gets(srv)) == 1


def test_echoed_chat_streams_and_is_priced(
    srv: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    route(srv, streamed("Hi", 10, 2))
    chat = hf(srv, echo="output")
    assert chat.chat("hi") == "Hi"
    assert "Hi" in capsys.readouterr().out
    assert cost_of(chat) == pytest.approx(expected_cost(LLAMA, "novita", 10, 2), rel=1e-12)


def test_cached_input_is_charged_at_the_input_price(srv: FakeServer) -> None:
    route(
        srv,
        Reply.json(
            completion("x", 1000, 10, cached=600), headers={"x-inference-provider": "novita"}
        ),
    )
    chat = hf(srv)
    chat.chat("hi")
    turn = chat.last_turn()
    assert isinstance(turn, AssistantTurn)
    assert turn.tokens == Tokens(400, 10, 600)
    assert turn.cost == pytest.approx(expected_cost(LLAMA, "novita", 1000, 10), rel=1e-12)


def test_a_model_suffix_names_the_provider(srv: FakeServer) -> None:
    route(srv, answer(upstream=None), answer(upstream="cerebras"))
    chat = hf(srv, model=f"{LLAMA}:nebius")
    chat.chat("hi")
    assert cost_of(chat) == pytest.approx(expected_cost(LLAMA, "nebius", 1000, 200), rel=1e-12)
    chat.chat("again")  # the header, when there is one, says who really answered
    assert cost_of(chat) == pytest.approx(expected_cost(LLAMA, "cerebras", 1000, 200), rel=1e-12)
    assert token_usage()[0]["model"] == f"{LLAMA}:nebius"


@pytest.mark.parametrize(
    "model,upstream",
    [
        (LLAMA, None),  # nobody says who served it
        (LLAMA, "featherless-ai"),  # listed without a price
        (LLAMA, "nobody"),  # not listed for this model
        ("org/unlisted-model", "novita"),
        (f"{LLAMA}:fastest", None),  # a routing policy, not a provider
    ],
)
def test_unknown_prices_leave_the_cost_unknown(
    srv: FakeServer, model: str, upstream: str | None
) -> None:
    route(srv, answer(upstream=upstream))
    chat = hf(srv, model=model)
    assert chat.chat("hi") == "ok"
    assert cost_of(chat) is None
    assert chat.get_cost() is None
    assert token_usage()[0]["cost"] is None
    assert token_usage()[0]["input"] == 1000


@pytest.mark.parametrize(
    "models",
    [
        Reply.json({"error": "down"}, status=500),
        Reply.raw(200, "<html>gateway</html>", content_type="text/html"),
        Reply.json({"object": "list"}),
        Reply.drop(),
    ],
    ids=["500", "html", "no-data", "dropped"],
)
def test_a_price_list_that_fails_is_not_asked_for_again(srv: FakeServer, models: Reply) -> None:
    route(srv, answer("one"), answer("two"), models=models)
    chat = hf(srv)
    assert chat.chat("hi") == "one"
    asked = len(gets(srv))
    # once; a connection that had served the chat and is dropped unanswered is tried once
    # more on a fresh one (the transport's retry of a stale keep-alive connection)
    assert asked == (2 if models.mode == "drop" else 1)
    assert chat.chat("again") == "two"
    assert cost_of(chat) is None
    assert len(gets(srv)) == asked  # not asked for again
    assert [row["cost"] for row in chat.get_tokens()] == [None, None]


def test_pricing_false_never_asks(srv: FakeServer) -> None:
    route(srv, answer())
    chat = hf(srv, pricing=False)
    chat.chat("hi")
    assert cost_of(chat) is None
    assert gets(srv) == []
    assert chat.get_provider().prices is None
    assert token_usage()[0]["input"] == 1000  # still counted


def test_pricing_is_on_by_default_only_for_the_router(srv: FakeServer) -> None:
    route(srv, answer())
    chat = hf(srv, pricing=None)
    chat.chat("hi")
    assert gets(srv) == []  # a local server is not the router
    assert chat.get_provider().prices is None
    router = chat_huggingface(credentials=lambda: KEY, echo="none")
    assert isinstance(router.get_provider().prices, RouterPrices)
    other = chat_huggingface(
        credentials=lambda: KEY, echo="none", base_url="https://my-endpoint.example/v1"
    )
    assert other.get_provider().prices is None


def test_set_model_keeps_the_price_list(srv: FakeServer) -> None:
    route(srv, answer(), answer())
    chat = hf(srv)
    prices = chat.get_provider().prices
    chat.chat("hi")
    chat.set_model("meta-llama/Llama-3.3-70B-Instruct")
    assert chat.get_provider().prices is prices
    chat.chat("again")
    assert cost_of(chat) == pytest.approx(
        expected_cost("meta-llama/Llama-3.3-70B-Instruct", "novita", 1000, 200), rel=1e-12
    )
    assert len(gets(srv)) == 1
    assert [row["model"] for row in token_usage()] == [LLAMA, "meta-llama/Llama-3.3-70B-Instruct"]


def test_a_cut_stream_is_neither_priced_nor_logged(srv: FakeServer) -> None:
    route(
        srv,
        Reply.cut(
            sse_data({"choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
            headers={"x-inference-provider": "novita"},
        ),
    )
    chat = hf(srv)
    with pytest.raises(ConnectionCutError):
        "".join(chat.stream("hi"))
    assert isinstance(chat.last_turn(), AssistantPartialTurn)
    assert cost_of(chat) is None
    assert token_usage() == []
    assert gets(srv) == []


def test_concurrent_answers_read_the_list_once(srv: FakeServer) -> None:
    route(srv, *[answer(str(i)) for i in range(8)])
    provider = hf(srv).get_provider()
    results: list[AssistantTurn] = []
    lock = threading.Lock()

    def work() -> None:
        out = provider.chat_perform([UserTurn("hi")])
        with lock:
            results.append(out)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    assert [r.cost for r in results] == [
        pytest.approx(expected_cost(LLAMA, "novita", 1000, 200), rel=1e-12)
    ] * 8
    assert len(gets(srv)) == 1
    (row,) = token_usage()
    assert row["input"] == 8000


# -- the recorded answers, priced ----------------------------------------------------


def priced_recordings() -> list[tuple[str, dict[str, Any]]]:
    """First interaction of each recording answered 200 by a named upstream, without tools."""
    out = []
    for path in sorted(FIXTURES.rglob("*.json")):
        interactions = json.loads(path.read_text(encoding="utf-8"))["interactions"]
        first = interactions[0]
        response = first["response"]
        if (
            first["request"]["method"] == "POST"
            and response["status"] == 200
            and "x-inference-provider" in response["headers"]
            and "tool_calls" not in response["body"]
        ):
            out.append((path.relative_to(FIXTURES).with_suffix("").as_posix(), first))
    return out


PRICED = priced_recordings()


def recorded_usage(response: dict[str, Any]) -> dict[str, Any] | None:
    body = response["body"]
    if not response["headers"]["content-type"].startswith("text/event-stream"):
        return json.loads(body).get("usage")  # type: ignore[no-any-return]
    usage = None
    for line in body.splitlines():
        if line.startswith("data: {"):
            usage = json.loads(line[len("data: ") :]).get("usage") or usage
    return usage


def test_enough_recordings_are_priced() -> None:
    assert len(PRICED) >= 30


@pytest.mark.parametrize("interaction", [i for _, i in PRICED], ids=[n for n, _ in PRICED])
def test_recorded_answers_are_priced(srv: FakeServer, interaction: dict[str, Any]) -> None:
    request, response = interaction["request"], interaction["response"]
    model = request["body"]["model"]
    upstream = response["headers"]["x-inference-provider"]
    route(srv, Reply.from_recording(response))
    chat = hf(srv, model=model)
    if request["body"].get("stream"):
        "".join(chat.stream("Hello"))
    else:
        chat.chat("Hello")
    usage = recorded_usage(response)
    if usage is None or (model, upstream) not in PRICES:
        expected = None
    else:
        expected = pytest.approx(
            expected_cost(model, upstream, usage["prompt_tokens"], usage["completion_tokens"]),
            rel=1e-12,
        )
    assert cost_of(chat) == expected
    (row,) = token_usage()
    assert row["cost"] == expected
    assert row["output"] == (usage or {}).get("completion_tokens", 0)
    assert len(gets(srv)) == (1 if usage is not None else 0)
